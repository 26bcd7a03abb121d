/* A stand-in for bcryptprimitives.dll, which Wine 8 lacks: Rust's standard library takes its
   random numbers from ProcessPrng there. Used by the tests under Wine only, never shipped. */
#include <windows.h>
#include <bcrypt.h>
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    return BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG));
}
