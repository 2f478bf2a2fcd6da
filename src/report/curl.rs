//! Requests as runnable curl commands, with the token as `$IPDR_API_TOKEN`
//! (and the other user's as `$IPDR_OTHER_API_TOKEN`).

use serde_json::Value;

use super::redact::Redactor;
use crate::outcome::exchange::SentRequest;

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The request as one curl command line. The configured token never
/// appears: it is spliced in from the `IPDR_API_TOKEN` environment variable.
pub fn curl_command(request: &SentRequest, token: &str) -> String {
    curl_command_redacted(request, &Redactor::new(token))
}

/// The request as one curl command line, every secret of `redactor` spliced
/// in from its environment variable (`IPDR_API_TOKEN`, `IPDR_OTHER_API_TOKEN`).
pub fn curl_command_redacted(request: &SentRequest, redactor: &Redactor) -> String {
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
        command.push_str(" -d ");
        command.push_str(&quote_with_secrets(&shown, redactor));
    }
    // A secret outside the body (a URL path, say) is at least never shown.
    redactor.text(&command)
}

/// `text` shell-quoted, each secret replaced by its variable: the quote is
/// closed, the variable spliced in double quotes, and the quote reopened.
fn quote_with_secrets(text: &str, redactor: &Redactor) -> String {
    let first = redactor
        .secrets()
        .iter()
        .filter_map(|secret| text.find(secret.value()).map(|at| (at, secret)))
        .min_by_key(|(at, secret)| (*at, std::cmp::Reverse(secret.value().len())));
    match first {
        None => shell_quote(text),
        Some((at, secret)) => {
            let rest = &text[at + secret.value().len()..];
            format!(
                "{}\"${}\"{}",
                shell_quote(&text[..at]),
                secret.variable,
                quote_with_secrets(rest, redactor)
            )
        }
    }
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

    #[test]
    fn the_other_users_token_becomes_its_own_variable() {
        let request = SentRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:1/api/ipdrcustomers".into(),
            body: Some(r#"{"api_token":"0ther","note":"s3cret"}"#.into()),
        };
        let command =
            curl_command_redacted(&request, &Redactor::for_tokens("s3cret", Some("0ther")));
        assert!(
            !command.contains("s3cret") && !command.contains("0ther"),
            "{command}"
        );
        assert!(
            command.ends_with(
                r#"-d '{"api_token":"'"$IPDR_OTHER_API_TOKEN"'","note":"'"$IPDR_API_TOKEN"'"}'"#
            ),
            "{command}"
        );
    }
}
