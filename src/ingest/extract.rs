//! Text extraction: from an uploaded file's bytes to plain text, split in sections (pages for
//! PDF). Pure Rust only, so a fresh install needs no system library.
//!
//! The type is decided twice: [`detect_in`] at upload checks that the content agrees with the
//! file name (a `.pdf` must start like a PDF, a `.docx` must be a zip with a Word body, text
//! must be UTF-8 without NUL bytes), and [`extract`] parses it in the worker. Parsers of
//! untrusted files can panic; [`extract`] catches that and reports a failure, so one bad
//! file fails its own job and never the worker.

use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The kinds of file Silo can extract text from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Text,
    Markdown,
    Html,
    Csv,
    Json,
    Pdf,
    Docx,
}

impl FileKind {
    /// The kind a file name's extension announces.
    pub fn from_filename(name: &str) -> Option<FileKind> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" | "text" | "log" => FileKind::Text,
            "md" | "markdown" => FileKind::Markdown,
            "html" | "htm" => FileKind::Html,
            "csv" => FileKind::Csv,
            "json" => FileKind::Json,
            "pdf" => FileKind::Pdf,
            "docx" => FileKind::Docx,
            _ => return None,
        })
    }

    /// The stored `file_type` (also the extension of the stored file).
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Text => "txt",
            FileKind::Markdown => "md",
            FileKind::Html => "html",
            FileKind::Csv => "csv",
            FileKind::Json => "json",
            FileKind::Pdf => "pdf",
            FileKind::Docx => "docx",
        }
    }

    pub fn parse(s: &str) -> Option<FileKind> {
        FileKind::from_filename(&format!("x.{s}"))
    }

    /// The canonical MIME type stored with the document (not the client's claim).
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Text => "text/plain",
            FileKind::Markdown => "text/markdown",
            FileKind::Html => "text/html",
            FileKind::Csv => "text/csv",
            FileKind::Json => "application/json",
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
        }
    }

    fn is_text(self) -> bool {
        !matches!(self, FileKind::Pdf | FileKind::Docx)
    }
}

/// The extensions accepted at upload, for error messages and the API description.
pub const SUPPORTED: &str = "txt, md, html, csv, json, pdf, docx";

/// Why an upload's type is refused (→ 415).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DetectError {
    #[error("unsupported file type; supported: {SUPPORTED}")]
    UnsupportedExtension,
    #[error("the content is not a {0} file")]
    ContentMismatch(&'static str),
}

/// The file's type from its name, confirmed by its content read from `file`: a `.pdf` must
/// start like a PDF, a `.docx` must be a zip with a Word body (only its central directory
/// is read), text must be UTF-8 without NUL bytes and not a PDF or zip in disguise (read in
/// blocks, never whole). I/O errors are returned as such.
pub fn detect_in<R: Read + std::io::Seek>(
    filename: &str,
    file: &mut R,
) -> std::io::Result<Result<FileKind, DetectError>> {
    let Some(kind) = FileKind::from_filename(filename) else {
        return Ok(Err(DetectError::UnsupportedExtension));
    };
    let ok = match kind {
        // The header may follow a little garbage (allowed by readers), but must be early.
        FileKind::Pdf => {
            let mut head = Vec::with_capacity(1024);
            file.take(1024).read_to_end(&mut head)?;
            find(&head, b"%PDF-").is_some()
        }
        FileKind::Docx => zip::ZipArchive::new(&mut *file)
            .is_ok_and(|mut z| z.by_name("word/document.xml").is_ok()),
        _ => reads_as_text(file)?,
    };
    Ok(if ok {
        Ok(kind)
    } else {
        Err(DetectError::ContentMismatch(kind.as_str()))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// UTF-8 (BOM allowed) without NUL bytes, and not a binary format wearing a text name;
/// read in 64 KiB blocks, carrying a character split across two of them.
fn reads_as_text<R: Read>(file: &mut R) -> std::io::Result<bool> {
    let mut block = vec![0u8; 64 << 10];
    let (mut pending, mut first) = (Vec::new(), true);
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok(pending.is_empty());
        }
        pending.extend_from_slice(&block[..n]);
        let mut body = &pending[..];
        if first {
            first = false;
            body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
            if body.starts_with(b"%PDF-") || body.starts_with(b"PK\x03\x04") {
                return Ok(false);
            }
        }
        if body.contains(&0) {
            return Ok(false);
        }
        let rest = match std::str::from_utf8(body) {
            Ok(_) => Vec::new(),
            // A character cut at the block's end: keep its bytes for the next block.
            Err(e) if e.error_len().is_none() => body[e.valid_up_to()..].to_vec(),
            Err(_) => return Ok(false),
        };
        pending = rest;
    }
}

/// A run of text and the page it came from (PDF only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub page: Option<u32>,
    pub text: String,
}

/// Why a file's text could not be extracted (→ the job fails with this message).
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("the file could not be parsed as {kind}: {reason}")]
    Parse { kind: &'static str, reason: String },
    #[error("the file contains no extractable text")]
    Empty,
}

fn parse_err(kind: FileKind, reason: impl std::fmt::Display) -> ExtractError {
    ExtractError::Parse {
        kind: kind.as_str(),
        reason: reason.to_string(),
    }
}

/// Largest decompressed DOCX body read; a zip bomb stops here.
const MAX_DOCX_XML: u64 = 64 << 20;

/// Extracts the text of a file. Never panics: a panic inside a parser becomes an error.
pub fn extract(kind: FileKind, bytes: &[u8]) -> Result<Vec<Section>, ExtractError> {
    let result =
        catch_unwind(AssertUnwindSafe(|| extract_inner(kind, bytes))).unwrap_or_else(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the parser failed".into());
            Err(parse_err(
                kind,
                format!("parser error ({})", truncate(&reason, 200)),
            ))
        })?;
    let sections: Vec<Section> = result
        .into_iter()
        .map(|s| Section {
            page: s.page,
            text: normalize(&s.text),
        })
        .filter(|s| !s.text.is_empty())
        .collect();
    if sections.is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(sections)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn extract_inner(kind: FileKind, bytes: &[u8]) -> Result<Vec<Section>, ExtractError> {
    let whole = |text: String| Ok(vec![Section { page: None, text }]);
    if kind.is_text() && !reads_as_text(&mut &bytes[..]).unwrap_or(false) {
        return Err(parse_err(kind, "not UTF-8 text"));
    }
    let text = || {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        String::from_utf8_lossy(body).into_owned()
    };
    match kind {
        FileKind::Text | FileKind::Markdown => whole(text()),
        FileKind::Html => html_text(bytes)
            .map_err(|e| parse_err(kind, e))
            .and_then(whole),
        FileKind::Csv => csv_text(bytes)
            .map_err(|e| parse_err(kind, e))
            .and_then(whole),
        FileKind::Json => json_text(&text())
            .map_err(|e| parse_err(kind, e))
            .and_then(whole),
        FileKind::Pdf => pdf_pages(bytes).map_err(|e| parse_err(kind, e)),
        FileKind::Docx => docx_text(bytes)
            .map_err(|e| parse_err(kind, e))
            .and_then(whole),
    }
}

/// HTML to readable text (scripts and styles dropped, block structure kept as blank lines).
fn html_text(bytes: &[u8]) -> Result<String, String> {
    check_html_nesting(bytes)?;
    // A very wide line width: wrapping would insert newlines in the middle of sentences.
    html2text::config::plain()
        .string_from_read(bytes, 100_000)
        .map_err(|e| e.to_string())
}

/// Deepest element nesting accepted in HTML. The HTML parser's time grows with the square
/// of the depth (20,000 nested `<div>` take seconds, millions take hours); real pages stay
/// far below this.
const MAX_HTML_DEPTH: usize = 1000;

/// A cheap scan of the tags before parsing: refuses documents nested deeper than
/// [`MAX_HTML_DEPTH`]. Void elements and elements whose end tag is optional (and often
/// omitted) do not count.
fn check_html_nesting(bytes: &[u8]) -> Result<(), String> {
    const UNCOUNTED: [&[u8]; 24] = [
        b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta",
        b"source", b"track", b"wbr", b"p", b"li", b"td", b"th", b"tr", b"option", b"dt", b"dd",
        b"tbody", b"thead", b"!",
    ];
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'<') {
        i += offset + 1;
        let closing = bytes.get(i) == Some(&b'/');
        let start = i + usize::from(closing);
        let name_len = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'!')
            .count();
        if name_len == 0 {
            continue;
        }
        let name = bytes[start..start + name_len].to_ascii_lowercase();
        if UNCOUNTED.contains(&name.as_slice()) || name.starts_with(b"!") {
            continue;
        }
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(bytes.len(), |p| start + p);
        let self_closing = end > 0 && bytes.get(end - 1) == Some(&b'/');
        if closing {
            depth = depth.saturating_sub(1);
        } else if !self_closing {
            depth += 1;
            if depth > MAX_HTML_DEPTH {
                return Err(format!("HTML nested deeper than {MAX_HTML_DEPTH} elements"));
            }
        }
        i = end.min(bytes.len());
    }
    Ok(())
}

/// CSV rows as `header: value` lines, so every chunk carries the meaning of its numbers.
fn csv_text(bytes: &[u8]) -> Result<String, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut out = String::with_capacity(bytes.len() * 2);
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(i, v)| match headers.get(i).filter(|h| !h.is_empty()) {
                Some(h) => format!("{h}: {}", v.trim()),
                None => v.trim().to_string(),
            })
            .collect();
        if !fields.is_empty() {
            out.push_str(&fields.join("; "));
            out.push_str("\n\n");
        }
    }
    if out.is_empty() {
        // Only a header row: its names are still the content.
        out = headers.join("; ");
    }
    Ok(out)
}

/// JSON as `path: value` lines: searchable text that keeps which field a value belongs to.
fn json_text(text: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = String::new();
    flatten_json(&value, &mut String::new(), &mut out, 0);
    Ok(out)
}

fn flatten_json(v: &serde_json::Value, path: &mut String, out: &mut String, depth: usize) {
    use serde_json::Value;
    // serde_json already refuses nesting past 128; this keeps recursion shallow regardless.
    if depth > 64 {
        return;
    }
    let len = path.len();
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                flatten_json(child, path, out, depth + 1);
                path.truncate(len);
            }
            if depth == 1 {
                out.push('\n'); // Top-level records become paragraphs.
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                flatten_json(child, path, out, depth + 1);
                path.truncate(len);
            }
        }
        Value::Null => {}
        scalar => {
            let s = match scalar {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if path.is_empty() {
                out.push_str(&s);
            } else {
                out.push_str(&format!("{path}: {s}"));
            }
            out.push('\n');
        }
    }
}

/// The text of each page of a PDF, with 1-based page numbers.
fn pdf_pages(bytes: &[u8]) -> Result<Vec<Section>, String> {
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes).map_err(|e| e.to_string())?;
    Ok(pages
        .into_iter()
        .enumerate()
        .map(|(i, text)| Section {
            page: Some(i as u32 + 1),
            text,
        })
        .collect())
}

/// The body text of a DOCX: paragraphs (`w:p`) separated by blank lines, `w:tab` and
/// `w:br` kept as whitespace, table cells separated by tabs.
fn docx_text(bytes: &[u8]) -> Result<String, String> {
    use quick_xml::events::Event;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .map_err(|e| format!("word/document.xml: {e}"))?
        .take(MAX_DOCX_XML)
        .read_to_string(&mut xml)
        .map_err(|e| format!("word/document.xml: {e}"))?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut out = String::with_capacity(xml.len() / 4);
    let mut in_text = false;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"t" => in_text = true,
                b"tab" => out.push('\t'),
                b"br" | b"cr" => out.push('\n'),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                b"tab" => out.push('\t'),
                b"br" | b"cr" => out.push('\n'),
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => out.push_str("\n\n"),
                b"tc" => out.push('\t'),
                _ => {}
            },
            Event::Text(t) if in_text => {
                out.push_str(&t.decode().map_err(|e| e.to_string())?);
            }
            Event::GeneralRef(r) if in_text => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else {
                    out.push_str(match r.decode().map_err(|e| e.to_string())?.as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// Normalises whitespace: CRLF to LF, trailing spaces removed, runs of blank lines reduced
/// to one blank line (the paragraph boundary the chunker looks for).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.replace("\r\n", "\n").replace('\r', "\n").split('\n') {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod nesting_tests {
    use super::*;

    #[test]
    fn deeply_nested_html_is_refused_quickly_and_normal_pages_pass() {
        let bomb = "<div>".repeat(5_000_000);
        let started = std::time::Instant::now();
        let err = extract(FileKind::Html, bomb.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nested deeper"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let page = format!(
            "<html><body>{}<p>unclosed<br><img src=x/></body></html>",
            "<p>para".repeat(5000)
        );
        assert!(extract(FileKind::Html, page.as_bytes()).is_ok());
        let nested = format!("{}deep{}", "<div>".repeat(900), "</div>".repeat(900));
        assert!(extract(FileKind::Html, nested.as_bytes()).is_ok());
    }
}
