//! A loopback server that answers every request with HTTP 200 and one huge
//! JSON list of customers (by default [`HUGE_BODY_BYTES`]), written from one
//! small reused buffer, so the server itself stays small whatever the size:
//! what grows is the harness reading it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The body size of the issue's memory target: 256 MiB.
pub const HUGE_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// One customer of the list, followed by a comma.
const ELEMENT: &[u8] = br#"{"ID":1,"Name":"Huge answer","Address":"","Email":"","PhoneNumber":"","AltPhoneNumber":"","UserID":"huge-answer"},"#;

/// Elements per write.
const ELEMENTS_PER_CHUNK: usize = 512;

/// Longest request head accepted before the connection is dropped.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A running server; aborted on drop.
pub struct HugeBodyServer {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl HugeBodyServer {
    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered (or being answered) so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for HugeBodyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the server on a free loopback port; every answer's body is `body_bytes` long
/// (at least one element).
pub async fn start(body_bytes: u64) -> std::io::Result<HugeBodyServer> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&requests);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let _ = serve(stream, body_bytes, &counter).await;
            });
        }
    });
    Ok(HugeBodyServer {
        addr,
        requests,
        task,
    })
}

/// Answers requests on one keep-alive connection until the client closes it.
async fn serve(mut stream: TcpStream, body_bytes: u64, counter: &AtomicU64) -> std::io::Result<()> {
    let layout = Layout::for_size(body_bytes);
    let chunk = ELEMENT.repeat(ELEMENTS_PER_CHUNK);
    let mut pending: Vec<u8> = Vec::new();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        // The head, then as many body bytes as Content-Length says (GET carries a body too).
        let head_end = loop {
            if let Some(end) = find(&pending, b"\r\n\r\n") {
                break end + 4;
            }
            if pending.len() > MAX_HEAD_BYTES {
                return Ok(());
            }
            let read = stream.read(&mut buffer).await?;
            if read == 0 {
                return Ok(());
            }
            pending.extend_from_slice(&buffer[..read]);
        };
        let body_length = content_length(&pending[..head_end]);
        let buffered = pending.len() - head_end;
        if buffered >= body_length {
            pending.drain(..head_end + body_length);
        } else {
            // The rest of this body is read and dropped; what follows it is the next request.
            let mut left = body_length - buffered;
            pending.clear();
            while left > 0 {
                let read = stream.read(&mut buffer).await?;
                if read == 0 {
                    return Ok(());
                }
                if read > left {
                    pending.extend_from_slice(&buffer[left..read]);
                    left = 0;
                } else {
                    left -= read;
                }
            }
        }
        counter.fetch_add(1, Ordering::Relaxed);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            layout.total()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(b"[").await?;
        write_spaces(&mut stream, layout.padding).await?;
        let mut left = layout.elements;
        while left > 0 {
            let now = left.min(ELEMENTS_PER_CHUNK as u64);
            stream
                .write_all(&chunk[..now as usize * ELEMENT.len()])
                .await?;
            left -= now;
        }
        stream.write_all(&ELEMENT[..ELEMENT.len() - 1]).await?;
        stream.write_all(b"]").await?;
    }
}

async fn write_spaces(stream: &mut TcpStream, count: u64) -> std::io::Result<()> {
    let spaces = [b' '; 256];
    let mut left = count;
    while left > 0 {
        let now = left.min(spaces.len() as u64);
        stream.write_all(&spaces[..now as usize]).await?;
        left -= now;
    }
    Ok(())
}

/// `[`, `padding` spaces, `elements` elements each followed by a comma, one last element, `]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    padding: u64,
    elements: u64,
}

impl Layout {
    fn for_size(body_bytes: u64) -> Layout {
        let element = ELEMENT.len() as u64;
        // "[" + last element (without its comma) + "]".
        let fixed = 1 + (element - 1) + 1;
        let room = body_bytes.saturating_sub(fixed);
        Layout {
            padding: room % element,
            elements: room / element,
        }
    }

    fn total(self) -> u64 {
        let element = ELEMENT.len() as u64;
        1 + self.padding + self.elements * element + (element - 1) + 1
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The Content-Length of a request head (0 when absent or unreadable).
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_fills_the_size_exactly() {
        for size in [HUGE_BODY_BYTES, 1 << 20, 1000, 300] {
            assert_eq!(Layout::for_size(size).total(), size, "{size}");
        }
    }

    #[tokio::test]
    async fn every_answer_is_one_json_list_of_the_size_asked() {
        let server = start(100_000).await.expect("starts");
        let client = reqwest::Client::new();
        for _ in 0..2 {
            let body = client
                .get(format!("{}/api/ipdrcustomers", server.base_url()))
                .header("content-type", "application/json")
                .body(r#"{"api_token":"t"}"#)
                .send()
                .await
                .expect("answers")
                .bytes()
                .await
                .expect("a body");
            assert_eq!(body.len(), 100_000);
            let list: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert!(list.as_array().is_some_and(|list| list.len() > 100));
        }
        assert_eq!(server.requests(), 2);
    }
}
