//! Sending the user back to a login step when the session expires.
//!
//! The application keeps no password: a login step asks the user, logs in, and forgets the
//! password again. The keeper then renews the token with the refresh token for as long as the
//! server allows. When the server ends the session (here: it revokes every token, as an
//! administrator's "sign out everywhere" would), the refresh is refused, nothing usable is
//! left, and the keeper reports [`Event::SessionExpired`]. The `on_event` hook sends the user
//! back to the login step; the request that failed is sent again once they are back.
//!
//! Runs against the reference server, in-process:
//!
//! ```text
//! cargo run -p tokenkeeper-reqwest --example session_expired
//! ```

use std::error::Error;

use tokenkeeper_reqwest::{Credentials, Dialect, Event, Keeper};
use tokenkeeper_testserver::{ServerConfig, TestServer};
use tokio::sync::{mpsc, watch};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .init();
    run().await
}

/// The whole story; `main` and the test below run it.
async fn run() -> Result<(), Box<dyn Error>> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let api = format!("{}/api/spaces", server.url());

    // The hook only sends the user to the login step: it runs on the task that fed the
    // engine and must stay short.
    let (to_login, login_requests) = mpsc::unbounded_channel();
    let hook = to_login.clone();
    let keeper = Keeper::builder(Dialect::vitalgraph(&server.url())?)
        .on_event(move |event| {
            if matches!(event, Event::SessionExpired) {
                let _ = hook.send("your session has ended, please sign in again");
            }
        })
        .build()?;

    let (logged_in, mut logins) = watch::channel(0_u32);
    tokio::spawn(login_step(keeper.clone(), login_requests, logged_in));

    // Start at the login screen.
    to_login.send("welcome, please sign in")?;
    logins.wait_for(|n| *n >= 1).await?;
    let client = keeper.client();
    println!(
        "GET /api/spaces -> {}",
        client.get(&api).send().await?.status()
    );

    // The server ends the session: the token and the refresh token are revoked.
    server.control().revoke_all();
    println!("(the server revokes every token)");
    match client.get(&api).send().await {
        Err(e) if e.is_session_expired() => println!("GET /api/spaces -> {e}"),
        other => return Err(format!("expected the session to expire, got {other:?}").into()),
    }

    // Back from the login step, the request goes through again.
    logins.wait_for(|n| *n >= 2).await?;
    println!(
        "GET /api/spaces -> {}",
        client.get(&api).send().await?.status()
    );
    let m = keeper.metrics();
    println!(
        "{} logins, {} refresh failure(s), {} request(s) failed",
        m.logins, m.refresh_failures, m.failures
    );
    Ok(())
}

/// The login step: for each request, asks the user for credentials, logs in with them and
/// forgets the password again. Counts the successful logins in `logged_in`.
async fn login_step(
    keeper: Keeper,
    mut requests: mpsc::UnboundedReceiver<&'static str>,
    logged_in: watch::Sender<u32>,
) {
    while let Some(why) = requests.recv().await {
        println!("[login] {why}");
        loop {
            keeper.set_credentials(ask_user());
            let result = keeper.login().await;
            keeper.set_credentials(Credentials::none());
            match result {
                Ok(()) => {
                    println!("[login] signed in");
                    logged_in.send_modify(|n| *n += 1);
                    break;
                }
                Err(e) if e.is_invalid_credentials() => println!("[login] {e}; try again"),
                Err(e) => {
                    println!("[login] cannot sign in now: {e}");
                    break;
                }
            }
        }
    }
}

/// Stands for a login form or a terminal prompt (an `async fn` in a real application): the
/// reference server's user.
fn ask_user() -> Credentials {
    Credentials::password("admin", "admin")
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_user_is_sent_back_to_the_login_step_and_the_request_goes_through() {
        super::run().await.unwrap();
    }
}
