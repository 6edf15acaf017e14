//! File type detection and text extraction, format by format.

use std::io::Cursor;

use silo::ingest::extract::*;

use crate::helpers::files::{docx, pdf};

fn detect(name: &str, bytes: &[u8]) -> Result<FileKind, DetectError> {
    detect_in(name, &mut Cursor::new(bytes)).unwrap()
}

#[test]
fn text_is_checked_in_blocks_across_their_boundaries() {
    // "é" (2 bytes) straddling the 64 KiB block boundary is fine.
    let mut text = vec![b'a'; (64 << 10) - 1];
    text.extend_from_slice("é and more".as_bytes());
    assert_eq!(detect("a.txt", &text), Ok(FileKind::Text));
    // A NUL or an invalid byte far past the first block is still found.
    for bad in [&b"\x00"[..], &b"\xff"[..]] {
        let mut late = vec![b'a'; 200 << 10];
        late.extend_from_slice(bad);
        assert!(detect("a.txt", &late).is_err());
    }
    // A character cut off at the very end is not text.
    assert!(detect("a.txt", &"é".as_bytes()[..1]).is_err());
}

#[test]
fn detect_checks_content_against_name() {
    assert_eq!(detect("a.txt", b"hello"), Ok(FileKind::Text));
    assert_eq!(detect("A.MD", b"# hi"), Ok(FileKind::Markdown));
    assert_eq!(
        detect("a.exe", b"MZ"),
        Err(DetectError::UnsupportedExtension)
    );
    assert_eq!(
        detect("noext", b"hi"),
        Err(DetectError::UnsupportedExtension)
    );
    assert_eq!(
        detect("a.pdf", b"hello"),
        Err(DetectError::ContentMismatch("pdf"))
    );
    assert_eq!(
        detect("a.txt", b"%PDF-1.4 ..."),
        Err(DetectError::ContentMismatch("txt"))
    );
    assert_eq!(
        detect("a.txt", b"\xff\xfe\x00h"),
        Err(DetectError::ContentMismatch("txt"))
    );
    assert_eq!(
        detect("a.docx", b"PK\x03\x04junk"),
        Err(DetectError::ContentMismatch("docx"))
    );
    assert_eq!(detect("a.docx", &docx(&["x"])), Ok(FileKind::Docx));
    assert_eq!(detect("a.pdf", &pdf(&["x"])), Ok(FileKind::Pdf));
}

#[test]
fn extracts_each_format() {
    let t = |k, b: &[u8]| {
        extract(k, b)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect::<Vec<_>>()
            .join("|")
    };
    assert_eq!(
        t(FileKind::Text, b"\xEF\xBB\xBFa\r\n\r\n\r\nb  \n"),
        "a\n\nb"
    );
    let html = t(FileKind::Html, b"<html><head><style>p{}</style><script>var x=1;</script></head><body><h1>Title</h1><p>Solar &amp; wind</p></body></html>");
    assert!(
        html.contains("Title") && html.contains("Solar & wind"),
        "{html}"
    );
    assert!(!html.contains("var x"), "{html}");
    let csv = t(FileKind::Csv, b"site,kwh\nPune,120\nDelhi,\"1,300\"\n");
    assert_eq!(csv, "site: Pune; kwh: 120\n\nsite: Delhi; kwh: 1,300");
    let json = t(
        FileKind::Json,
        br#"{"site": {"name": "Pune", "kwh": [1, 2]}, "ok": true}"#,
    );
    assert!(
        json.contains("site.name: Pune")
            && json.contains("site.kwh[1]: 2")
            && json.contains("ok: true"),
        "{json}"
    );
    let d = t(FileKind::Docx, &docx(&["First &amp; one", "Second"]));
    assert_eq!(d, "First & one\n\nSecond");
    let p = extract(FileKind::Pdf, &pdf(&["Page one text", "Page two text"])).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[1].page, Some(2));
    assert!(p[1].text.contains("Page two text"), "{:?}", p);
}

#[test]
fn corrupt_files_fail_without_panicking() {
    let mut broken = pdf(&["hello"]);
    broken.truncate(broken.len() / 2);
    assert!(extract(FileKind::Pdf, &broken).is_err());
    assert!(extract(FileKind::Pdf, b"%PDF-1.7\n garbage garbage").is_err());
    assert!(extract(FileKind::Docx, b"PK\x03\x04 not a zip").is_err());
    assert!(extract(FileKind::Json, b"{\"a\": ").is_err());
    assert!(matches!(
        extract(FileKind::Text, b"   \n\n "),
        Err(ExtractError::Empty)
    ));
}
