//! A loopback TCP proxy in front of a server, for targets that are slow or
//! stop answering: each request is held back a while, or, past a number of
//! requests, never forwarded at all (the connection stays open, silent).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A proxy on an ephemeral loopback port.
pub struct Proxy {
    /// Serves the proxy; dropped with it.
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    /// Request lines seen (client to server).
    requests: Arc<AtomicUsize>,
    /// Requests forwarded before the proxy falls silent (`usize::MAX`: never).
    answer_first: Arc<AtomicUsize>,
    /// Milliseconds each read from a client is held back.
    delay_ms: Arc<AtomicU64>,
    /// Reads from clients held back and not yet written to the server.
    held: Arc<AtomicUsize>,
}

impl Proxy {
    /// Forwards to `upstream`, each read from the client delayed by `delay`,
    /// and only the first `answer_first` requests (later ones are swallowed).
    pub fn start(upstream: SocketAddr, delay: Duration, answer_first: usize) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let answer_first = Arc::new(AtomicUsize::new(answer_first));
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let held = Arc::new(AtomicUsize::new(0));
        let (seen, limit, delay, holding) = (
            Arc::clone(&requests),
            Arc::clone(&answer_first),
            Arc::clone(&delay_ms),
            Arc::clone(&held),
        );
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let relays = Relays {
                    seen: Arc::clone(&seen),
                    limit: Arc::clone(&limit),
                    delay_ms: Arc::clone(&delay),
                    held: Arc::clone(&holding),
                };
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, relays).await;
                    }
                });
            }
        });
        Proxy {
            _runtime: runtime,
            addr,
            requests,
            answer_first,
            delay_ms,
            held,
        }
    }

    /// The proxy's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Request lines seen so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Waits (up to 30 s) until every request the proxy held back has reached
    /// the server: what a killed client sent is still on its way until then,
    /// as on a real network.
    pub fn wait_delivered(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.held.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(self.held.load(Ordering::SeqCst), 0, "requests still held");
    }

    /// Forwards every request again from now on, at once (a target that came back).
    pub fn heal(&self) {
        self.answer_first.store(usize::MAX, Ordering::SeqCst);
        self.delay_ms.store(0, Ordering::SeqCst);
    }
}

/// Counts HTTP/1.1 request lines in a chunk from the client.
fn request_lines(chunk: &[u8]) -> usize {
    chunk
        .windows(b" HTTP/1.1\r\n".len())
        .filter(|window| *window == b" HTTP/1.1\r\n")
        .count()
}

/// One read held back: counted in the proxy's `held` while it lives.
struct Holding(Arc<AtomicUsize>);

impl Holding {
    fn new(held: &Arc<AtomicUsize>) -> Holding {
        held.fetch_add(1, Ordering::SeqCst);
        Holding(Arc::clone(held))
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What every relayed connection shares with the proxy.
struct Relays {
    seen: Arc<AtomicUsize>,
    limit: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
    held: Arc<AtomicUsize>,
}

async fn relay(client: TcpStream, server: TcpStream, relays: Relays) {
    let Relays {
        seen,
        limit,
        delay_ms,
        held,
    } = relays;
    let (mut server_read, mut server_write) = server.into_split();
    let (mut client_read, mut client_write) = client.into_split();
    let upstream = tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            let before = seen.fetch_add(request_lines(&buffer[..read]), Ordering::SeqCst);
            if before >= limit.load(Ordering::SeqCst) {
                // Silent from here on: the request is swallowed, the connection kept.
                std::future::pending::<()>().await;
            }
            // Counted until written, or until the relay is dropped with it.
            let holding = Holding::new(&held);
            let delay = delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let written = server_write.write_all(&buffer[..read]).await;
            drop(holding);
            if written.is_err() {
                return;
            }
        }
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                if client_write.write_all(&buffer[..read]).await.is_err() {
                    break;
                }
            }
        }
    }
    upstream.abort();
}
