//! Lists shared by the steps that ask for the same list at about the same time.
//!
//! A production list is hundreds of MB ("Retrieving Customer List" has no
//! paging), and a run asks for one after most of its changes. A step that
//! only needs its own records checked need not have a list of its own: any
//! list of the same request *sent after the step asked* shows every change
//! the step made before asking, which is all a list can prove to it. So the
//! steps asking while a list of that request is being read wait for the next
//! one, and each reads it through its own [`ListSink`]: one read, many verdicts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::client::{Client, Exchange, TransportError};
use super::list_stream::{Glance, ListSink};

/// How many lists of one request may be read at once: with one, every
/// step waits for the list in flight to end before its own starts; with
/// two, a fast target does not make the steps wait, and a slow one still
/// reads few lists for many steps.
pub const LISTS_IN_FLIGHT_PER_REQUEST: usize = 2;

/// A sink of any type, handed back to its waiter as the type it came as.
trait ErasedSink: ListSink {
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

impl<S: ListSink + 'static> ErasedSink for S {
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

/// One step waiting for a list: its sink, and where its answer goes.
struct Waiter {
    sink: Box<dyn ErasedSink>,
    reply: tokio::sync::oneshot::Sender<(Exchange, Box<dyn ErasedSink>)>,
}

/// The waiters of one request, and how many of its lists are being read.
#[derive(Default)]
struct Queue {
    waiting: Vec<Waiter>,
    reading: usize,
}

/// The method, path and body of a list request: lists are shared only between identical requests.
type RequestKey = (String, String, Option<String>);

/// The queues of every request asked for. Clones share them.
#[derive(Clone, Default)]
pub struct ListShare {
    queues: Arc<Mutex<HashMap<RequestKey, Queue>>>,
}

impl std::fmt::Debug for ListShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListShare")
    }
}

impl ListShare {
    /// The answer to `method path body` read through `sink` from a list
    /// sent after this call: alone, or together with other steps asking for
    /// the same request. Returns the exchange (its `json` holds the
    /// elements `sink` kept) and the sink, which has seen every element
    /// (none when the shared reading stopped: a sink panicked).
    pub async fn read<S: ListSink + 'static>(
        &self,
        client: &Client,
        method: &str,
        path: &str,
        body: Option<String>,
        sink: S,
    ) -> (Exchange, Option<S>) {
        let key: RequestKey = (method.to_string(), path.to_string(), body);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let start = {
            let mut queues = self
                .queues
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let queue = queues.entry(key.clone()).or_default();
            queue.waiting.push(Waiter {
                sink: Box::new(sink),
                reply,
            });
            if queue.reading < LISTS_IN_FLIGHT_PER_REQUEST {
                queue.reading += 1;
                true
            } else {
                false
            }
        };
        if start {
            let share = self.clone();
            let client = client.clone();
            let key = key.clone();
            tokio::spawn(async move { share.serve(client, key).await });
        }
        match answer.await {
            Ok((exchange, sink)) => (
                exchange,
                sink.into_any().downcast::<S>().ok().map(|sink| *sink),
            ),
            // The reading task panicked: a sink did; say so rather than hang.
            Err(_) => (
                Exchange {
                    request: super::client::SentRequest {
                        method: key.0.clone(),
                        url: client.target().url(&key.1),
                        body: key.2.clone(),
                    },
                    response: Err(TransportError(
                        "the list shared with other steps could not be read: its reader stopped"
                            .to_string(),
                    )),
                },
                None,
            ),
        }
    }

    /// Reads lists of `key` for its waiters, a batch at a time, until none wait.
    async fn serve(&self, client: Client, key: RequestKey) {
        let _unwinding = Unwinding {
            share: self,
            key: &key,
        };
        loop {
            let batch = {
                let mut queues = self
                    .queues
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                let queue = queues.entry(key.clone()).or_default();
                if queue.waiting.is_empty() {
                    queue.reading -= 1;
                    if queue.reading == 0 {
                        queues.remove(&key);
                    }
                    return;
                }
                std::mem::take(&mut queue.waiting)
            };
            let (sinks, replies): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|waiter| (waiter.sink, waiter.reply))
                .unzip();
            let mut fan = FanOut::new(sinks);
            let exchange = client
                .send_list(&key.0, &key.1, key.2.clone(), &mut fan)
                .await;
            for ((exchange, sink), reply) in fan.split(exchange).into_iter().zip(replies) {
                // A waiter gone (its run interrupted) needs no answer.
                let _ = reply.send((exchange, sink));
            }
        }
    }
}

/// Should a sink panic while a list is read, the queue it served is freed:
/// its waiters get an error (their senders dropped) instead of waiting forever.
struct Unwinding<'a> {
    share: &'a ListShare,
    key: &'a RequestKey,
}

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let mut queues = self
            .share
            .queues
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(queue) = queues.get_mut(self.key) {
            queue.waiting.clear();
            queue.reading = queue.reading.saturating_sub(1);
            if queue.reading == 0 {
                queues.remove(self.key);
            }
        }
    }
}

/// Many sinks reading one list: each sees every element it wants, and
/// the elements any of them keeps are kept once, then handed to each.
struct FanOut {
    sinks: Vec<Box<dyn ErasedSink>>,
    /// Which sinks want the element being read.
    wanting: Vec<bool>,
    /// For each element kept, in order, the sinks that keep it.
    kept_by: Vec<Vec<usize>>,
}

impl FanOut {
    fn new(sinks: Vec<Box<dyn ErasedSink>>) -> FanOut {
        FanOut {
            wanting: vec![false; sinks.len()],
            sinks,
            kept_by: Vec::new(),
        }
    }

    /// One exchange per sink: the shared one, its list cut to what that sink kept.
    fn split(self, shared: Exchange) -> Vec<(Exchange, Box<dyn ErasedSink>)> {
        let kept: Option<Vec<Value>> = match &shared.response {
            Ok(response) => match &response.json {
                Some(Value::Array(items)) if response.listed.is_some() => Some(items.clone()),
                _ => None,
            },
            Err(_) => None,
        };
        let mut own: Vec<Vec<Value>> = vec![Vec::new(); self.sinks.len()];
        if let Some(kept) = kept {
            for (element, keepers) in kept.into_iter().zip(&self.kept_by) {
                for &keeper in keepers {
                    own[keeper].push(element.clone());
                }
            }
        }
        self.sinks
            .into_iter()
            .zip(own)
            .map(|(sink, own)| {
                let mut exchange = shared.clone();
                if let Ok(response) = &mut exchange.response {
                    if response.listed.is_some() && response.json.is_some() {
                        response.json = Some(Value::Array(own));
                    }
                }
                (exchange, sink)
            })
            .collect()
    }
}

impl ListSink for FanOut {
    fn restart(&mut self) {
        for sink in &mut self.sinks {
            sink.restart();
        }
        self.kept_by.clear();
    }

    fn wants(&mut self, index: usize, glance: &Glance) -> bool {
        let mut any = false;
        for (sink, wanting) in self.sinks.iter_mut().zip(&mut self.wanting) {
            *wanting = sink.wants(index, glance);
            any |= *wanting;
        }
        any
    }

    fn element(&mut self, index: usize, element: &Value) -> bool {
        let keepers: Vec<usize> = self
            .sinks
            .iter_mut()
            .zip(&self.wanting)
            .enumerate()
            .filter(|(_, (_, wanting))| **wanting)
            .filter_map(|(at, (sink, _))| sink.element(index, element).then_some(at))
            .collect();
        if keepers.is_empty() {
            return false;
        }
        self.kept_by.push(keepers);
        true
    }
}
