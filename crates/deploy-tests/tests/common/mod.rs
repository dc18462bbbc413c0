//! Helpers shared by the deploy tests: paths, the Ruby helper, property sets.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Map, Value, json};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn release_dir() -> PathBuf {
    workspace().join("deploy/bosh-release")
}

pub fn job_dir() -> PathBuf {
    release_dir().join("jobs/cloudstack_cpi")
}

pub fn ops_dir() -> PathBuf {
    workspace().join("deploy/bosh-deployment/cloudstack")
}

pub fn fixtures() -> PathBuf {
    workspace().join("deploy/tests/fixtures")
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs `ruby deploy/tests/bosh_tool.rb ARGS`. Ruby is a test requirement (`scripts/test`
/// installs Debian's `ruby`); its absence is a failure, not a skip.
pub fn bosh_tool(args: &[&str]) -> Output {
    let tool = workspace().join("deploy/tests/bosh_tool.rb");
    Command::new("ruby")
        .arg(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run ruby ({e}): install it with `apt-get install -y ruby`")
        })
}

pub fn bosh_tool_ok(args: &[&str]) -> String {
    let output = bosh_tool(args);
    assert!(
        output.status.success(),
        "bosh_tool.rb {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The job spec as JSON.
pub fn job_spec() -> Value {
    let job = job_dir();
    serde_json::from_str(&bosh_tool_ok(&["spec", job.to_str().unwrap()])).expect("spec JSON")
}

/// Every property of the job spec, with its definition.
pub fn spec_properties() -> BTreeMap<String, Value> {
    job_spec()["properties"]
        .as_object()
        .expect("spec properties")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Properties under `bpm.` configure the bpm sandbox of the daemon; they are not config keys.
pub const JOB_ONLY_PREFIX: &str = "bpm.";

/// `bosh_tool.rb interpolate` of the fixture bosh.yml with the given ops files.
pub fn interpolate(ops_files: &[&str]) -> Value {
    let base = fixtures().join("bosh.yml");
    let vars = fixtures().join("vars.yml");
    let mut args = vec![
        "interpolate".to_owned(),
        base.display().to_string(),
        vars.display().to_string(),
    ];
    args.extend(
        ops_files
            .iter()
            .map(|f| ops_dir().join(f).display().to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&bosh_tool_ok(&args)).expect("interpolate JSON")
}

/// The properties the director gives the `cloudstack_cpi` job on the director VM: the
/// instance group's properties overlaid with the job's own, as BOSH resolves them.
pub fn director_properties(manifest: &Value) -> Value {
    let group = manifest["instance_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "bosh")
        .expect("instance group bosh");
    let job = group["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "cloudstack_cpi")
        .expect("job cloudstack_cpi on the bosh instance group");
    job.get("properties")
        .cloned()
        .unwrap_or_else(|| group["properties"].clone())
}

/// The three property sets the issue names: director, create-env, PostgreSQL registry.
pub fn property_sets() -> Vec<(&'static str, Value)> {
    let director = interpolate(&["cpi.yml"]);
    let postgres = interpolate(&["cpi.yml", "postgres-registry.yml"]);
    vec![
        ("director", director_properties(&director["manifest"])),
        (
            "create-env",
            director["manifest"]["cloud_provider"]["properties"].clone(),
        ),
        ("postgres", director_properties(&postgres["manifest"])),
    ]
}

/// Renders every template of the job with `properties` into `out`.
pub fn render(properties: &Value, out: &Path) -> Output {
    std::fs::create_dir_all(out).unwrap();
    let props = out.join("properties.json");
    std::fs::write(&props, serde_json::to_string(properties).unwrap()).unwrap();
    let rendered = out.join("rendered");
    std::fs::create_dir_all(&rendered).unwrap();
    bosh_tool(&[
        "render",
        job_dir().to_str().unwrap(),
        props.to_str().unwrap(),
        rendered.to_str().unwrap(),
    ])
}

pub fn render_ok(properties: &Value, out: &Path) -> PathBuf {
    let output = render(properties, out);
    assert!(
        output.status.success(),
        "rendering failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out.join("rendered")
}

/// The smallest valid property set: the four keys the config requires.
pub fn minimal_properties() -> Value {
    json!({"cloudstack": {
        "endpoint": "https://cloud.example.com/client/api",
        "api_key": "AKEY-minimal",
        "secret_access_key": "SKEY-minimal",
        "default_zone": "zone1"
    }})
}

/// Sets `dotted` in a nested JSON object.
pub fn set_dotted(root: &mut Value, dotted: &str, value: Value) {
    let mut node = root;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let map: &mut Map<String, Value> = node.as_object_mut().expect("object");
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        node = map.entry(part).or_insert_with(|| json!({}));
    }
}

/// The config keys present in a rendered config, as dotted names: objects are walked into
/// unless their path is itself a key (such as `agent.blobstore.options`).
pub fn config_keys_of(document: &Value, known: &std::collections::BTreeSet<String>) -> Vec<String> {
    fn walk(
        node: &Value,
        prefix: &str,
        known: &std::collections::BTreeSet<String>,
        keys: &mut Vec<String>,
    ) {
        match node.as_object() {
            Some(map) if !known.contains(prefix) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(value, &path, known, keys);
                }
            }
            _ => keys.push(prefix.to_owned()),
        }
    }
    let mut keys = Vec::new();
    walk(document, "", known, &mut keys);
    keys.sort();
    keys
}

pub fn known_keys() -> std::collections::BTreeSet<String> {
    cpi_config::KNOWN_KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .collect()
}

/// Builds the `cpid` binary of this workspace (a no-op when it is fresh) and returns its path.
pub fn cpid_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "cpid", "--bin", "cpid"])
        .current_dir(workspace())
        .status()
        .expect("cargo build -p cpid");
    assert!(
        status.success(),
        "`cargo build -p cpid` failed: the daemon crate does not compile right now"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        workspace().join(target)
    };
    target.join("debug/cpid")
}
