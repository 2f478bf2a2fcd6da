//! A TCP proxy in front of a loopback server: counts HTTP/1.1 request lines
//! going to the target and the bytes it sends back (headers included) and,
//! when given a delay, holds each request that long
//! before it goes upstream, so every answer comes `delay` later (a target
//! across a network). Bytes pass through unchanged, so the JSON bodies of
//! GET and DELETE requests reach the server as sent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const MARKER: &[u8] = b" HTTP/1.1\r\n";

/// A running proxy; aborted on drop.
pub struct CountingProxy {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl CountingProxy {
    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Request lines seen so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Bytes the target sent back so far (status lines, headers and bodies).
    pub fn bytes_from_target(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a proxy on a free loopback port in front of `upstream` that holds
/// every request `delay` before forwarding it (`Duration::ZERO`: counting only).
pub async fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<CountingProxy> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&requests);
    let byte_counter = Arc::clone(&answered);
    let task = tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            let byte_counter = Arc::clone(&byte_counter);
            tokio::spawn(async move {
                let Ok(outbound) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (mut in_read, mut in_write) = inbound.into_split();
                let (mut out_read, mut out_write) = outbound.into_split();
                let upstream_copy = async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let mut tail: Vec<u8> = Vec::new();
                    loop {
                        let read = match in_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => read,
                        };
                        tail.extend_from_slice(&buffer[..read]);
                        let found = tail.windows(MARKER.len()).filter(|w| *w == MARKER).count();
                        counter.fetch_add(found as u64, Ordering::Relaxed);
                        let keep = tail.len().min(MARKER.len() - 1);
                        tail.drain(..tail.len() - keep);
                        // The client waits for each answer before it sends the next request on
                        // this connection (no pipelining), so holding the chunk that starts a
                        // request delays that request's answer by `delay`, and only it.
                        if found > 0 && !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        if out_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                    let _ = out_write.shutdown().await;
                };
                let downstream_copy = async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let read = match out_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => read,
                        };
                        if in_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                        // Counted once handed on: what the client was sent.
                        byte_counter.fetch_add(read as u64, Ordering::Relaxed);
                    }
                    let _ = in_write.shutdown().await;
                };
                tokio::join!(upstream_copy, downstream_copy);
            });
        }
    });
    Ok(CountingProxy {
        addr,
        requests,
        answered,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{self, ServerConfig, UsersFixture};

    #[tokio::test]
    async fn the_proxy_forwards_get_bodies_counts_and_holds_each_request() {
        let server = reference::start(ServerConfig::builtin(), ([127, 0, 0, 1], 0).into())
            .await
            .expect("the reference server starts");
        let delay = Duration::from_millis(40);
        let proxy = start(server.addr(), delay).await.expect("the proxy starts");
        let harness = UsersFixture::builtin().harness();
        let auth = serde_json::json!({
            "api_token": harness.api_token,
            "username": harness.username,
            "contextname": harness.context,
        });
        let client = reqwest::Client::new();
        let mut body_bytes = 0;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let answer = client
                .get(format!("{}/api/ipdrcustomers", proxy.base_url()))
                .header("content-type", "application/json")
                .body(auth.to_string())
                .send()
                .await
                .expect("an answer");
            // A lower bound only: the delay is added, whatever the machine's speed.
            assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
            assert_eq!(answer.status(), 200);
            let body = answer.bytes().await.expect("a body");
            body_bytes += body.len() as u64;
            let list: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            // The credentials in the GET body arrived: the list, not an auth error.
            assert!(list.is_array(), "{list}");
        }
        assert_eq!(proxy.requests(), 3);
        // Every body byte, plus a status line and headers per answer.
        let counted = proxy.bytes_from_target();
        assert!(
            counted > body_bytes && counted < body_bytes + 3 * 1024,
            "{counted} vs {body_bytes}"
        );
        drop(proxy);
        server.shutdown().await;
    }
}
