//! Requests as runnable curl commands, with the token as `$IPDR_API_TOKEN`.

use serde_json::Value;

use crate::execution::client::SentRequest;

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The request as one curl command line. The configured token never
/// appears: it is spliced in from the `IPDR_API_TOKEN` environment variable.
pub fn curl_command(request: &SentRequest, token: &str) -> String {
    let mut command = format!(
        "curl -sS -X {} {} -H 'Content-Type: application/json'",
        request.method,
        shell_quote(&request.url)
    );
    if let Some(body) = &request.body {
        let shown = match serde_json::from_str::<Value>(body) {
            Ok(json) => json.to_string(),
            Err(_) => body.clone(),
        };
        let quoted = if token.is_empty() {
            shell_quote(&shown)
        } else {
            // Close the quote, splice the variable in double quotes, reopen.
            shown
                .split(token)
                .map(shell_quote)
                .collect::<Vec<_>>()
                .join("\"$IPDR_API_TOKEN\"")
        };
        command.push_str(" -d ");
        command.push_str(&quoted);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_becomes_an_environment_variable() {
        let request = SentRequest {
            method: "GET".into(),
            url: "http://127.0.0.1:1/api/ipdrcustomers".into(),
            body: Some(r#"{"api_token":"s3cret","username":"o'neil"}"#.into()),
        };
        let command = curl_command(&request, "s3cret");
        assert!(!command.contains("s3cret"));
        assert_eq!(
            command,
            r#"curl -sS -X GET 'http://127.0.0.1:1/api/ipdrcustomers' -H 'Content-Type: application/json' -d '{"api_token":"'"$IPDR_API_TOKEN"'","username":"o'\''neil"}'"#
        );
    }
}
