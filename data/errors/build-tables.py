#!/usr/bin/env python3
"""Rebuilds win32.tsv, hresult.tsv and wu.tsv from their sources (see README.md).

    pip download impacket==0.13.1 --no-deps && unzip -o impacket-*.whl 'impacket/*_errors.py' -d src
    apt-get download mingw-w64-common && dpkg-deb -x mingw-w64-common_*.deb src
    python3 build-tables.py src
"""
import importlib.util
import re
import sys
from pathlib import Path

src = Path(sys.argv[1])
here = Path(__file__).parent


def load(name):
    spec = importlib.util.spec_from_file_location(name, src / "impacket" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ERROR_MESSAGES


def one_line(text):
    return " ".join(text.split())


def write(name, header, rows):
    with open(here / name, "w") as out:
        out.write(header + "\n")
        for row in rows:
            out.write("\t".join(row) + "\n")


win32 = load("system_errors")
write(
    "win32.tsv",
    "# code\tname\tmeaning: Win32 error codes. Source: [MS-ERREF] 2.2 as tabulated by impacket's system_errors.py (see README.md)",
    [(str(k), *map(one_line, win32[k])) for k in sorted(win32)],
)
hresult = load("hresult_errors")
write(
    "hresult.tsv",
    "# code\tname\tmeaning: HRESULT values. Source: [MS-ERREF] 2.1 as tabulated by impacket's hresult_errors.py (see README.md)",
    [(f"0x{k:08X}", *map(one_line, hresult[k])) for k in sorted(hresult)],
)
header = src / "usr/share/mingw-w64/include/wuerror.h"
wu = {}
for line in header.read_text().splitlines():
    m = re.match(r"#define (WU_[ES]_\w+) _HRESULT_TYPEDEF_\((0x[0-9A-Fa-f]+)\)", line)
    if m:
        wu[int(m.group(2), 16)] = m.group(1)
# Names the header lacks but Microsoft's page gives.
wu.setdefault(0x80245FFF, "WU_E_REDIRECTOR_UNEXPECTED")
meanings = {}
# The component page first; the SDK page and the rest only for codes it does not explain.
for table in ("wu-meanings.tsv", "wu-meanings-more.tsv"):
    for line in (here / table).read_text().splitlines():
        if line and not line.startswith("#"):
            code, meaning = line.split("\t")
            meanings.setdefault(int(code, 16), meaning)
write(
    "wu.tsv",
    "# code\tname\tmeaning: Windows Update Agent result codes. Names: mingw-w64 wuerror.h (public domain); "
    "meanings: Microsoft's \"Windows Update error codes by component\" and \"WUA Success and Error Codes\" (CC BY 4.0); see README.md",
    [(f"0x{k:08X}", wu[k], *([meanings[k]] if k in meanings else [])) for k in sorted(wu)],
)
