//! Runs every `palisade …` command of the README's CLI tour, so the README stays true.

use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Commands of the first `sh` block after the `## CLI tour` heading, with their expected exit code.
fn tour_commands() -> Vec<(String, i32)> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let tour = readme.split("## CLI tour").nth(1).expect("README has a CLI tour section");
    let block = tour.split("```sh").nth(1).and_then(|b| b.split("```").next()).expect("a sh block in the tour");
    block
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("palisade "))
        .map(|l| match l.rsplit_once("# exits ") {
            Some((cmd, code)) => (cmd.trim().to_string(), code.trim().parse().expect("exit code")),
            None => (l.to_string(), 0),
        })
        .collect()
}

#[test]
fn readme_cli_tour_runs_as_written() {
    let commands = tour_commands();
    assert!(commands.len() >= 5, "the tour lost its commands: {commands:?}");
    let bin = env!("CARGO_BIN_EXE_palisade");
    for (command, expected) in commands {
        let line = format!("{bin}{}", &command["palisade".len()..]);
        let out = Command::new("sh").arg("-c").arg(&line).current_dir(repo_root()).output().expect("run sh");
        assert_eq!(
            out.status.code(),
            Some(expected),
            "`{command}` exited {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "`{command}` printed nothing");
    }
}
