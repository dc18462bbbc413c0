//! `cpid demo`, the README's first command, runs a whole lifecycle and succeeds.

mod harness;

use std::process::Command;

#[test]
fn the_demo_runs_a_whole_lifecycle_through_the_shim() {
    // The demo finds the shim next to cpid, as a real installation does.
    harness::shim_binary();
    let output = Command::new(harness::CPID)
        .arg("demo")
        .env("CPID_LOG", "warn")
        .output()
        .expect("cpid demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cpid demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for step in [
        "create_stemcell",
        "create_vm",
        "attach_disk",
        "delete_vm",
        "delete_stemcell",
    ] {
        assert!(
            stdout.contains(&format!("=> {step}")),
            "{step} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("every call succeeded"), "{stdout}");
    assert!(!stdout.contains("error:"), "{stdout}");
}
