//! A minimal HTTP/1.1 client over one keep-alive TCP connection, for load generation inside
//! the benchmark process: one request in flight per connection, `Content-Length` and chunked
//! responses, nothing else. It costs the shared two cores as little as possible, so the
//! figures measure the simulator rather than the client.
//!
//! Input: request bytes (the caller formats them). Output: the status, and the body when
//! asked for.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// HTTP status.
    pub(crate) status: u16,
    /// The body, when the caller asked to keep it (else empty).
    pub(crate) body: Vec<u8>,
}

/// One keep-alive connection.
#[derive(Debug)]
pub(crate) struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    /// A connection to `addr`, opened on first use.
    pub(crate) fn new(addr: SocketAddr) -> Connection {
        Connection {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// Send one request (complete bytes: request line, headers, body) and read the response.
    /// On any error the connection is dropped and the next call opens a new one.
    pub(crate) async fn send(&mut self, request: &[u8], keep_body: bool) -> io::Result<Response> {
        let result = self.send_inner(request, keep_body).await;
        if result.is_err() {
            self.stream = None;
            self.buf.clear();
        }
        result
    }

    async fn send_inner(&mut self, request: &[u8], keep_body: bool) -> io::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.buf.clear();
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::other("no connection"));
        };
        stream.write_all(request).await?;

        // Headers.
        let (status, header_len, length, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(header_len)) => {
                    let status = parsed.code.unwrap_or(0);
                    let mut length = BodyLength::Close;
                    let mut close = false;
                    for h in parsed.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let n = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .ok_or_else(|| io::Error::other("bad content-length"))?;
                            length = BodyLength::Fixed(n);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                            && contains_token(h.value, b"chunked")
                        {
                            length = BodyLength::Chunked;
                        } else if h.name.eq_ignore_ascii_case("connection")
                            && contains_token(h.value, b"close")
                        {
                            close = true;
                        }
                    }
                    // 1xx, 204 and 304 have no body.
                    if status == 204 || status == 304 || (100..200).contains(&status) {
                        length = BodyLength::Fixed(0);
                    }
                    break (status, header_len, length, close);
                }
                Ok(httparse::Status::Partial) => read_more(stream, &mut self.buf).await?,
                Err(e) => return Err(io::Error::other(format!("bad response: {e}"))),
            }
        };

        // Body.
        let mut body = Vec::new();
        let consumed = match length {
            BodyLength::Fixed(n) => {
                while self.buf.len() < header_len + n {
                    read_more(stream, &mut self.buf).await?;
                }
                if keep_body {
                    body.extend_from_slice(&self.buf[header_len..header_len + n]);
                }
                header_len + n
            }
            BodyLength::Chunked => {
                let mut at = header_len;
                loop {
                    let line_end = loop {
                        if let Some(i) = find_crlf(&self.buf[at..]) {
                            break at + i;
                        }
                        read_more(stream, &mut self.buf).await?;
                    };
                    let size_text = std::str::from_utf8(&self.buf[at..line_end])
                        .map_err(|_| io::Error::other("bad chunk size"))?;
                    let size_text = size_text.split(';').next().unwrap_or_default().trim();
                    let size = usize::from_str_radix(size_text, 16)
                        .map_err(|_| io::Error::other("bad chunk size"))?;
                    at = line_end + 2;
                    if size == 0 {
                        // Trailers end with an empty line.
                        loop {
                            let line_end = loop {
                                if let Some(i) = find_crlf(&self.buf[at..]) {
                                    break at + i;
                                }
                                read_more(stream, &mut self.buf).await?;
                            };
                            let empty = line_end == at;
                            at = line_end + 2;
                            if empty {
                                break;
                            }
                        }
                        break at;
                    }
                    while self.buf.len() < at + size + 2 {
                        read_more(stream, &mut self.buf).await?;
                    }
                    if keep_body {
                        body.extend_from_slice(&self.buf[at..at + size]);
                    }
                    at += size + 2;
                }
            }
            BodyLength::Close => {
                loop {
                    match read_more(stream, &mut self.buf).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(e),
                    }
                }
                if keep_body {
                    body.extend_from_slice(&self.buf[header_len..]);
                }
                self.stream = None;
                self.buf.len()
            }
        };
        self.buf.drain(..consumed.min(self.buf.len()));
        if close {
            self.stream = None;
            self.buf.clear();
        }
        Ok(Response { status, body })
    }
}

#[derive(Debug, Clone, Copy)]
enum BodyLength {
    Fixed(usize),
    Chunked,
    Close,
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    let n = stream.read_buf(buf).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(())
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
}

/// Format a request: `method path`, `Host`, the extra header lines (each ending in CRLF), and
/// a JSON or form body with its length.
pub(crate) fn request(
    method: &str,
    host: &str,
    path: &str,
    extra_headers: &str,
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.map_or(0, |(_, b)| b.len()));
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(extra_headers.as_bytes());
    match body {
        Some((content_type, bytes)) => {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(content_type.as_bytes());
            out.extend_from_slice(
                format!("\r\nContent-Length: {}\r\n\r\n", bytes.len()).as_bytes(),
            );
            out.extend_from_slice(bytes);
        }
        None => out.extend_from_slice(b"\r\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncBufReadExt;

    /// A server that answers each request on a connection with the next canned response.
    async fn canned(responses: Vec<&'static [u8]>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut reader = tokio::io::BufReader::new(tcp);
            for response in responses {
                // Read one request's headers (the tests send no bodies).
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.expect("read") == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                reader.get_mut().write_all(response).await.expect("write");
            }
        });
        addr
    }

    #[tokio::test]
    async fn keep_alive_with_fixed_chunked_and_empty_bodies() {
        let addr = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 2\r\n\r\n{}",
        ])
        .await;
        let mut conn = Connection::new(addr);
        let get = request("GET", "x", "/a", "", None);
        let r = conn.send(&get, true).await.expect("first");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let r = conn.send(&get, true).await.expect("second");
        assert_eq!((r.status, r.body.as_slice()), (201, &b"abcde"[..]));
        let r = conn.send(&get, true).await.expect("third");
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = conn.send(&get, false).await.expect("fourth");
        assert_eq!((r.status, r.body.len()), (429, 0));
        // The server has closed: an error, then a reconnect attempt (refused or closed).
        assert!(conn.send(&get, false).await.is_err());
    }

    #[test]
    fn requests_are_formatted_with_length() {
        let r = request(
            "POST",
            "h:1",
            "/p",
            "Authorization: Bearer t\r\n",
            Some(("application/json", b"{}")),
        );
        assert_eq!(
            String::from_utf8(r).expect("utf8"),
            "POST /p HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
