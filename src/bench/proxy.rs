//! A counting TCP proxy: counts HTTP/1.1 request lines going to the target.
//! Used for one extra run of the suite that only counts requests, so the
//! timed run goes straight to the server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const MARKER: &[u8] = b" HTTP/1.1\r\n";

/// A running proxy; aborted on drop.
pub struct CountingProxy {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
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
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a proxy on a free loopback port in front of `upstream`.
pub async fn start(upstream: SocketAddr) -> std::io::Result<CountingProxy> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&requests);
    let task = tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let Ok(outbound) = TcpStream::connect(upstream).await else {
                    return;
                };
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
                        if out_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                    let _ = out_write.shutdown().await;
                };
                let downstream_copy = async move {
                    let _ = tokio::io::copy(&mut out_read, &mut in_write).await;
                    let _ = in_write.shutdown().await;
                };
                tokio::join!(upstream_copy, downstream_copy);
            });
        }
    });
    Ok(CountingProxy {
        addr,
        requests,
        task,
    })
}
