//! Plain-text layout for the table report: wrapping at spaces only (a path or a service name is
//! never split), cutting a line to a width with "…", a step's first sentence, and columns padded
//! by hand. Everything here takes text already escaped for display.

/// Wrap `text` at spaces only (a path or service name is never split), the first line after
/// `first` (already written) and the others indented by `indent`.
pub(crate) fn wrap_hanging(text: &str, first: usize, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut col = first;
    let mut line_empty = true;
    for word in text.split(' ') {
        let w = word.chars().count();
        if !line_empty && col + 1 + w > width {
            out.push('\n');
            out.push_str(&pad);
            col = indent;
            line_empty = true;
        }
        if !line_empty {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
        line_empty = false;
    }
    out.push('\n');
    out
}

/// A paragraph indented by `indent`, wrapped at spaces.
pub(crate) fn wrap(text: &str, indent: usize, width: usize) -> String {
    text.split('\n')
        .map(|para| {
            format!(
                "{}{}",
                " ".repeat(indent),
                wrap_hanging(para, indent, indent, width)
            )
        })
        .collect()
}

/// A step's first sentence: what to do. The reasons and caveats that follow are printed with
/// `--evidence` and are in every other format.
pub(crate) fn first_sentence(text: &str) -> &str {
    let mut from = 0;
    while let Some(at) = text[from..].find(". ") {
        let end = from + at + 1;
        // "e.g. x" or "(1022, or 1036 …)": a sentence ends before a capital letter.
        if text[end + 1..].starts_with(|c: char| c.is_uppercase()) {
            return &text[..end];
        }
        from = end + 1;
    }
    text
}

/// `line` in at most `max` characters, the rest replaced by "…".
pub(crate) fn cut(line: &str, max: usize) -> String {
    // Bytes bound characters from above.
    if line.len() <= max || line.chars().count() <= max {
        return line.to_string();
    }
    let kept: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Columns padded to their widest cell; cells of the `shrink` columns (the first given is cut
/// first) are cut with "…" when the line would pass `width`. Written by hand: a fleet's overview has thousands of rows, and this is
/// linear in them.
pub(crate) fn columns(
    header: &[&str],
    rows: &[Vec<String>],
    shrink: &[usize],
    width: usize,
) -> String {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * (n - 1);
    // Take from the `shrink` columns in their order, each down to 12, until the line fits.
    for &i in shrink {
        let over = total(&widths).saturating_sub(width);
        widths[i] -= over.min(widths[i].saturating_sub(12));
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            let c = cut(&c, widths[i]);
            if i + 1 < n {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            } else {
                l.push_str(&c);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().map(|h| h.to_string()));
    for r in rows {
        line(&mut r.iter().cloned());
    }
    out
}
