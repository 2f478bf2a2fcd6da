//! A JSON list read as it arrives, one element at a time.
//!
//! A production Trisul lists hundreds of thousands of customers in one
//! answer ("Retrieving Customer List" has no paging): held whole, one list
//! would cost more memory than the whole run may use. The reader parses
//! each element on its own, shows it to a [`ListSink`] (which judges it and
//! says whether to keep it), and forgets it unless kept. What the run holds
//! grows with the elements kept, never with the list.

use serde_json::Value;

use crate::outcome::exchange::MAX_BODY_BYTES;
pub use crate::spec::glance::{Glance, Kind};

/// Most bytes one list element may take, and most bytes of elements one list may keep.
pub const MAX_ELEMENT_BYTES: usize = MAX_BODY_BYTES;

/// Most bytes of one list read (4 GiB: over 20 million customers of about
/// 190 bytes): a list that never ends stops here, not at the time budget.
pub const MAX_LIST_BYTES: u64 = 4 << 30;

/// What the reader of a list does with each element as it arrives.
///
/// Every element is first glanced at ([`Glance`]: its JSON type, its
/// UserID and Name, read without building the rest); only an element the
/// sink [`wants`](ListSink::wants) is parsed whole and shown to
/// [`element`](ListSink::element). Most of a large list is other parties'
/// customers, which a glance settles.
pub trait ListSink: Send {
    /// A new attempt reads the list again from its start: forget every element seen.
    fn restart(&mut self);
    /// Element `index` at a glance: whether to parse it whole for [`ListSink::element`].
    /// An element not wanted is settled by the glance, and not kept.
    fn wants(&mut self, index: usize, glance: &Glance) -> bool;
    /// Element `index`, parsed whole: whether the answer keeps it.
    fn element(&mut self, index: usize, element: &Value) -> bool;
}

/// A sink that keeps the elements a predicate on their [`Glance`] wants, and judges nothing.
pub struct KeepWhere<F>(pub F);

impl<F: FnMut(&Glance) -> bool + Send> ListSink for KeepWhere<F> {
    fn restart(&mut self) {}

    fn wants(&mut self, _index: usize, glance: &Glance) -> bool {
        (self.0)(glance)
    }

    fn element(&mut self, _index: usize, _element: &Value) -> bool {
        true
    }
}

/// Where the reader is between elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `[`.
    Start,
    /// After `[`: an element or `]`.
    FirstOrClose,
    /// After `,`: an element.
    Next,
    /// After an element: `,` or `]`.
    CommaOrClose,
    /// After the closing `]`: only white space.
    Closed,
}

/// How the list ended, when it did not end as a whole JSON list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListProblem {
    /// The body is not JSON: serde_json's words, placed in the whole body.
    NotJson(String),
    /// One element was longer than [`MAX_ELEMENT_BYTES`]; reading stopped there.
    ElementTooLong { index: usize },
    /// The elements kept came to more than [`MAX_ELEMENT_BYTES`]; reading stopped there.
    KeptTooMuch { kept: usize },
    /// The body is not UTF-8 (a glance does not read the strings it skips,
    /// so the reader checks the bytes as they pass).
    NotUtf8,
    /// The list ran past this many bytes; reading stopped there.
    TooLong { bytes: u64 },
}

impl std::fmt::Display for ListProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListProblem::NotJson(why) => write!(f, "not JSON ({why})"),
            ListProblem::ElementTooLong { index } => write!(
                f,
                "a list whose element /{index} is longer than {} MiB; the harness stopped reading there",
                MAX_ELEMENT_BYTES >> 20
            ),
            ListProblem::NotUtf8 => write!(f, "not valid UTF-8"),
            ListProblem::TooLong { bytes } => write!(
                f,
                "a list of more than {} GiB ({bytes} bytes read); the harness stopped reading there",
                MAX_LIST_BYTES >> 30
            ),
            ListProblem::KeptTooMuch { kept } => write!(
                f,
                "a list holding more than {} MiB of the elements this run looks at ({kept} of them); the harness stopped reading there",
                MAX_ELEMENT_BYTES >> 20
            ),
        }
    }
}

/// A list as read: the elements kept, how many there were, and how it ended.
#[derive(Debug)]
pub struct ListRead {
    /// The elements the sink kept, in order.
    pub kept: Vec<Value>,
    /// How many elements the list had (up to where reading stopped).
    pub elements: usize,
    /// Why the list is not a whole JSON list, if it is not.
    pub problem: Option<ListProblem>,
}

/// Reads one JSON list from its bytes, chunk by chunk. Each element is
/// read once by serde_json as a [`Glance`] (which also finds where it
/// ends), and parsed whole only when the sink wants it.
pub struct ListReader<'s> {
    sink: &'s mut dyn ListSink,
    state: State,
    /// Bytes not yet read: an element cut by the end of the last chunk.
    pending: Vec<u8>,
    /// `pending`'s length at which to try its element again: an element cut
    /// short is read again only once its bytes have doubled, so a long one
    /// arriving in small chunks costs linear time.
    retry_at: usize,
    /// Line (1-based) and column (bytes since the line began) of the first pending byte.
    line: usize,
    column: usize,
    kept: Vec<Value>,
    kept_bytes: usize,
    elements: usize,
    problem: Option<ListProblem>,
    /// The start of a character cut at the end of the last chunk.
    utf8_carry: Vec<u8>,
    /// Bytes read, and the most that may be.
    read: u64,
    most: u64,
}

impl<'s> ListReader<'s> {
    /// A reader handing each element to `sink` (restarted first).
    pub fn new(sink: &'s mut dyn ListSink) -> ListReader<'s> {
        ListReader::at_most(sink, MAX_LIST_BYTES)
    }

    fn at_most(sink: &'s mut dyn ListSink, most: u64) -> ListReader<'s> {
        sink.restart();
        ListReader {
            sink,
            state: State::Start,
            pending: Vec::new(),
            retry_at: 0,
            line: 1,
            column: 0,
            kept: Vec::new(),
            kept_bytes: 0,
            elements: 0,
            problem: None,
            utf8_carry: Vec::new(),
            read: 0,
            most,
        }
    }

    /// Whether reading should stop: the body is not a whole list, or is too much.
    pub fn stopped(&self) -> bool {
        self.problem.is_some()
    }

    /// The next bytes of the body. After a problem, the rest is ignored.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.read += bytes.len() as u64;
        if self.problem.is_none() && self.read > self.most {
            self.problem = Some(ListProblem::TooLong { bytes: self.read });
        }
        if self.problem.is_none() && !self.utf8_continues(bytes) {
            self.problem = Some(ListProblem::NotUtf8);
        }
        if self.problem.is_some() {
            return;
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= self.retry_at {
            self.read_pending(false);
        }
    }

    /// Whether the body is still UTF-8 with `bytes`; a character cut at
    /// their end is carried to the next chunk.
    fn utf8_continues(&mut self, bytes: &[u8]) -> bool {
        let mut rest = bytes;
        if let Some(&lead) = self.utf8_carry.first() {
            let length = match lead {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let take = (length - self.utf8_carry.len()).min(rest.len());
            self.utf8_carry.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.utf8_carry.len() < length {
                return true;
            }
            if std::str::from_utf8(&self.utf8_carry).is_err() {
                return false;
            }
            self.utf8_carry.clear();
        }
        match std::str::from_utf8(rest) {
            Ok(_) => true,
            Err(error) if error.error_len().is_none() => {
                self.utf8_carry
                    .extend_from_slice(&rest[error.valid_up_to()..]);
                true
            }
            Err(_) => false,
        }
    }

    /// Reads every whole element of `pending`; `ended` when no byte follows.
    fn read_pending(&mut self, ended: bool) {
        let pending = std::mem::take(&mut self.pending);
        let mut at = 0;
        let (mut line, mut column) = (self.line, self.column);
        // Moves `at` to `to`, keeping the line and column of `at`.
        let advance = |from: usize, to: usize, line: &mut usize, column: &mut usize| {
            let passed = &pending[from..to];
            match passed.iter().rposition(|&byte| byte == b'\n') {
                Some(last) => {
                    *line += passed.iter().filter(|&&byte| byte == b'\n').count();
                    *column = passed.len() - last - 1;
                }
                None => *column += passed.len(),
            }
        };
        while self.problem.is_none() {
            let white = pending[at..]
                .iter()
                .take_while(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            advance(at, at + white, &mut line, &mut column);
            at += white;
            let Some(&byte) = pending.get(at) else { break };
            // The column serde_json gives this byte: 1-based.
            let here = (line, column + 1);
            match self.state {
                State::Start if byte == b'[' => self.state = State::FirstOrClose,
                State::Start => self.syntax("expected `[`", here),
                State::FirstOrClose if byte == b']' => self.state = State::Closed,
                State::Next if byte == b']' => self.syntax("trailing comma", here),
                State::FirstOrClose | State::Next => {
                    let mut stream =
                        serde_json::Deserializer::from_slice(&pending[at..]).into_iter::<Glance>();
                    match stream.next() {
                        Some(Ok(glance)) => {
                            let end = at + stream.byte_offset();
                            // A number at the end of the bytes so far may go on.
                            if end == pending.len() && !ended && glance.kind == Kind::Number {
                                break;
                            }
                            self.element(&pending[at..end], &glance);
                            self.state = State::CommaOrClose;
                            advance(at, end, &mut line, &mut column);
                            at = end;
                            continue;
                        }
                        Some(Err(error)) if error.is_eof() && !ended => {
                            if pending.len() - at > MAX_ELEMENT_BYTES {
                                self.problem = Some(ListProblem::ElementTooLong {
                                    index: self.elements,
                                });
                            }
                            break;
                        }
                        Some(Err(error)) => self.element_error(&error, (line, column)),
                        None => break,
                    }
                    continue;
                }
                State::CommaOrClose if byte == b',' => self.state = State::Next,
                State::CommaOrClose if byte == b']' => self.state = State::Closed,
                State::CommaOrClose => self.syntax("expected `,` or `]`", here),
                State::Closed => self.syntax("trailing characters", here),
            }
            if self.problem.is_none() {
                advance(at, at + 1, &mut line, &mut column);
                at += 1;
            }
        }
        self.line = line;
        self.column = column;
        self.pending = pending;
        self.pending.drain(..at);
        // An element cut short: read it again once its bytes have doubled.
        self.retry_at = self.pending.len() * 2;
        if self.pending.capacity() > 4 * MAX_ELEMENT_BYTES.min(self.pending.len().max(1 << 16)) {
            self.pending.shrink_to(self.pending.len().max(1 << 16));
        }
    }

    /// A whole element: glanced at, parsed whole if the sink wants it, kept if it says so.
    fn element(&mut self, bytes: &[u8], glance: &Glance) {
        if bytes.len() > MAX_ELEMENT_BYTES {
            self.problem = Some(ListProblem::ElementTooLong {
                index: self.elements,
            });
            return;
        }
        if self.sink.wants(self.elements, glance) {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => {
                    if self.sink.element(self.elements, &value) {
                        self.kept_bytes += bytes.len();
                        self.kept.push(value);
                        if self.kept_bytes > MAX_ELEMENT_BYTES {
                            self.problem = Some(ListProblem::KeptTooMuch {
                                kept: self.kept.len(),
                            });
                        }
                    }
                }
                // The glance read it whole: only a limit of serde_json's own (recursion).
                Err(error) => {
                    self.problem = Some(ListProblem::NotJson(error.to_string()));
                    return;
                }
            }
        }
        self.elements += 1;
    }

    /// serde_json's error in an element starting at `at` (line, column
    /// before it), placed in the whole body.
    fn element_error(&mut self, error: &serde_json::Error, at: (usize, usize)) {
        let text = error.to_string();
        let words = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(words, _)| words);
        // Past a whole scalar, serde_json says what the list would have said.
        let words = if words == "trailing characters" {
            "expected `,` or `]`"
        } else {
            words
        };
        let (line, column) = if error.line() <= 1 {
            (at.0, at.1 + error.column())
        } else {
            (at.0 + error.line() - 1, error.column())
        };
        self.problem = Some(ListProblem::NotJson(format!(
            "{words} at line {line} column {column}"
        )));
    }

    fn syntax(&mut self, words: &str, (line, column): (usize, usize)) {
        self.problem = Some(ListProblem::NotJson(format!(
            "{words} at line {line} column {column}"
        )));
    }

    /// The list as read once the body ended.
    pub fn finish(mut self) -> ListRead {
        if self.problem.is_none() && !self.utf8_carry.is_empty() {
            self.problem = Some(ListProblem::NotUtf8);
        }
        if self.problem.is_none() {
            self.read_pending(true);
        }
        if self.problem.is_none() && self.state != State::Closed {
            // What serde_json says at the end of the body: the column of its last byte.
            let words = match self.state {
                State::Start => "EOF while parsing a value",
                _ => "EOF while parsing a list",
            };
            let at = (self.line, self.column.max(1));
            self.syntax(words, at);
        }
        ListRead {
            kept: self.kept,
            elements: self.elements,
            problem: self.problem,
        }
    }
}

/// Whether a body that starts with `first` (its first byte past white space) is a list.
pub fn starts_a_list(first: u8) -> bool {
    first == b'['
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_in_chunks(
        body: &[u8],
        chunk: usize,
        keep: impl Fn(&Glance) -> bool + Send,
    ) -> ListRead {
        let mut sink = KeepWhere(keep);
        let mut reader = ListReader::new(&mut sink);
        for piece in body.chunks(chunk.max(1)) {
            reader.feed(piece);
        }
        reader.finish()
    }

    /// What serde_json says of the whole body, for comparison.
    fn whole(body: &[u8]) -> Option<String> {
        serde_json::from_slice::<Value>(body)
            .err()
            .map(|error| error.to_string())
    }

    #[test]
    fn every_chunking_reads_the_same_elements() {
        let body = br#" [ {"UserID":"a","Name":"x \" ] , [ { y"}, 12 ,-3.5e2,"s\\",true,null,[1,[2]],{"a":{"b":[]}} ]  "#;
        let expected: Vec<Value> = match serde_json::from_slice(body).unwrap() {
            Value::Array(items) => items,
            _ => unreachable!(),
        };
        for chunk in 1..body.len() + 1 {
            let read = read_in_chunks(body, chunk, |_| true);
            assert_eq!(read.problem, None, "chunk {chunk}");
            assert_eq!(read.kept, expected, "chunk {chunk}");
            assert_eq!(read.elements, expected.len());
        }
    }

    #[test]
    fn only_the_elements_wanted_are_kept_but_all_are_counted() {
        let items: Vec<Value> = (0..1000)
            .map(|n| json!({"UserID": format!("u{n}")}))
            .collect();
        let body = Value::Array(items).to_string();
        let read = read_in_chunks(body.as_bytes(), 4096, |item| {
            item.user_id_text() == Some("u7")
        });
        assert_eq!(read.kept, vec![json!({"UserID": "u7"})]);
        assert_eq!(read.elements, 1000);
        assert_eq!(read.problem, None);
    }

    #[test]
    fn problems_are_placed_where_serde_json_places_them_in_the_whole_body() {
        for body in [
            &b"[1,2"[..],
            b"[1,2,]",
            b"[1 2]",
            b"[1,2] x",
            b"[{\"a\":1,}]",
            b"[\"abc",
            b"[\n  {\"a\": tru},\n  2]",
            b"[1,\n2x]",
            b"[",
            b"[1,[2,3]",
        ] {
            let read = read_in_chunks(body, 3, |_| true);
            let problem = read.problem.expect("a problem");
            let whole = whole(body).expect("serde_json fails too");
            assert_eq!(
                problem,
                ListProblem::NotJson(whole.clone()),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn invalid_utf8_anywhere_is_a_problem_even_in_a_member_not_parsed() {
        for body in [
            &b"[{\"a\":\"\xff\"}]"[..],
            b"[{\"UserID\":\"u\xc3\"}]",
            b"[\"\xe2\x82\"]",
        ] {
            for chunk in 1..body.len() {
                let read = read_in_chunks(body, chunk, |_| false);
                assert_eq!(read.problem, Some(ListProblem::NotUtf8), "{body:?} {chunk}");
            }
        }
        // A character cut between two chunks is still UTF-8.
        let body = "[\"é€😀\"]".as_bytes();
        for chunk in 1..body.len() {
            assert_eq!(read_in_chunks(body, chunk, |_| true).problem, None);
        }
    }

    #[test]
    fn a_glance_reads_type_user_id_and_name_as_a_parsed_object_would() {
        let glance = |text: &str| serde_json::from_str::<Glance>(text).unwrap();
        let seen = glance(r#"{"UserID":"a","x":{"UserID":"b"},"Name":"N","UserID":"c"}"#);
        assert_eq!(seen.kind, Kind::Object);
        assert_eq!(seen.user_id_text(), Some("c"));
        assert_eq!(seen.name_text(), Some("N"));
        assert_eq!(glance(r#"{"User\u0049D":7}"#).user_id, Some(json!(7)));
        assert_eq!(glance("[1]").kind, Kind::Array);
        assert_eq!(glance("\"s\"").kind, Kind::String);
        assert_eq!(glance("null").kind, Kind::Null);
        assert_eq!(glance("-1.5").kind, Kind::Number);
        assert_eq!(glance("true").kind, Kind::Boolean);
    }

    #[test]
    fn a_list_past_its_byte_cap_stops_the_reading() {
        let mut sink = KeepWhere(|_: &Glance| false);
        let mut reader = ListReader::at_most(&mut sink, 1000);
        reader.feed(b"[");
        while !reader.stopped() {
            reader.feed(b"1,2,3,4,5,");
        }
        let read = reader.finish();
        assert_eq!(read.problem, Some(ListProblem::TooLong { bytes: 1001 }));
        assert_eq!(read.elements, 495);
    }

    #[test]
    fn an_element_past_the_cap_stops_the_reading() {
        let mut body = b"[1,\"".to_vec();
        body.extend(std::iter::repeat_n(b'x', MAX_ELEMENT_BYTES + 1));
        body.extend(b"\"]");
        let read = read_in_chunks(&body, 1 << 20, |_| true);
        assert_eq!(read.problem, Some(ListProblem::ElementTooLong { index: 1 }));
        assert_eq!(read.elements, 1);
    }

    #[test]
    fn elements_kept_past_the_cap_stop_the_reading() {
        let item = format!("\"{}\"", "x".repeat(1 << 20));
        let body = format!("[{}]", vec![item; 20].join(","));
        let read = read_in_chunks(body.as_bytes(), 1 << 16, |_| true);
        assert_eq!(read.problem, Some(ListProblem::KeptTooMuch { kept: 16 }));
        let read = read_in_chunks(body.as_bytes(), 1 << 16, |_| false);
        assert_eq!(read.problem, None);
        assert_eq!(read.elements, 20);
    }
}
