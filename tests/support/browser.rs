//! Headless Chromium driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`, which the test command installs): a chromedriver on a
//! free port, one browser session, both gone when dropped.

use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    /// Ends chromedriver and every browser process it started (its process
    /// group): a test that fails midway leaves no Chromium rendering a live
    /// page, and slowing every test after it.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn command_path(name: &str, env: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok().filter(|o| o.status.success());
        let path = found.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
        assert!(!path.is_empty(), "{name} is missing: run infra/scripts/test.sh, which installs Debian's chromium and chromium-driver");
        path
    })
}

impl Browser {
    /// A headless Chromium at `width` x `height` CSS pixels, in time zone `tz`
    /// and locale en-US, so the page's local dates are known to the test.
    pub async fn start(width: u32, height: u32, tz: &str) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(command_path("chromedriver", "CALLOPS_CHROMEDRIVER"))
            // A process group of its own, with the browsers it starts: ended together when dropped.
            .process_group(0)
            .arg(format!("--port={port}"))
            .env("TZ", tz)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut options = serde_json::Map::new();
        options.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": command_path("chromium", "CALLOPS_CHROMIUM"),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                         "--force-device-scale-factor=1", "--lang=en-US", format!("--window-size={width},{height}")],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(options.clone()).connect(&url).await {
                Ok(client) => return Browser { client, driver },
                Err(err) => last_error = err.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no browser session from chromedriver: {last_error}");
    }

    /// Runs a script in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("the script failed: {e}\n{script}"))
    }

    /// Waits (up to 20 s) until `script` returns something truthy, and returns it.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        for _ in 0..200 {
            let value = self.eval(script).await;
            if !matches!(value, Value::Null | Value::Bool(false)) && value != json!("") && value != json!(0) {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting until {what}");
    }

    /// Saves a PNG of the window under `target/screenshots/`.
    pub async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.expect("a screenshot")).unwrap();
        path
    }
}
