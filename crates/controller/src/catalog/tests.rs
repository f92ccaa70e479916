use super::*;

fn policy(name: &str, generation: i64, pattern: Value) -> Value {
    json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": name, "generation": generation, "uid": "0b5c", "resourceVersion": "42",
            "creationTimestamp": "2026-11-23T18:00:00Z", "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {
            "validationFailureAction": "Enforce",
            "rules": [{
                "name": "check",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "validate": {"message": "m", "pattern": pattern},
            }],
        },
        "status": {"ready": true},
    })
}

fn good(name: &str, generation: i64) -> Value {
    policy(name, generation, json!({"metadata": {"labels": {"team": "?*"}}}))
}

fn broken(name: &str, generation: i64) -> Value {
    let mut p = good(name, generation);
    p["spec"]["rules"][0]["validate"] = json!({"message": "m", "nonsense": true});
    p
}

fn key(name: &str) -> PolicyKey {
    PolicyKey { kind: "ClusterPolicy".into(), namespace: None, name: name.into() }
}

fn names(c: &Catalog) -> Vec<String> {
    c.policy_set().policies().iter().map(|p| p.name().to_string()).collect()
}

fn ready(c: &Catalog, name: &str) -> (bool, String, String) {
    let s = c.status_patch(&key(name), "2026-11-23T18:00:00Z").unwrap();
    let cond = &s["status"]["conditions"][0];
    assert_eq!(s["status"]["ready"], cond["status"] == "True");
    (
        s["status"]["ready"].as_bool().unwrap(),
        cond["reason"].as_str().unwrap().into(),
        cond["message"].as_str().unwrap().into(),
    )
}

#[test]
fn keys() {
    let cases = [
        (
            json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "a"}}),
            Ok("ClusterPolicy a"),
        ),
        (
            json!({"apiVersion": "kyverno.io/v2beta1", "kind": "Policy", "metadata": {"name": "a", "namespace": "n"}}),
            Ok("Policy n/a"),
        ),
        (
            json!({"apiVersion": "palisade.dev/v1alpha1", "kind": "RuntimeClassPolicy", "metadata": {"name": "s"}}),
            Ok("RuntimeClassPolicy s"),
        ),
        (
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}),
            Err("v1 Pod is not a policy kind Palisade serves"),
        ),
        (
            json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {}}),
            Err("ClusterPolicy without metadata.name"),
        ),
    ];
    for (object, want) in cases {
        let got = PolicyKey::of(&object).map(|k| k.to_string()).map_err(|e| e.to_string());
        assert_eq!(got, want.map(str::to_string).map_err(str::to_string), "{object}");
    }
}

#[test]
fn server_metadata_and_status_are_ignored() {
    let mut c = Catalog::new();
    assert_eq!(c.upsert(&good("a", 1)), Ok(Outcome::Ready));
    assert_eq!(names(&c), vec!["a"]);
    assert_eq!(ready(&c, "a"), (true, "Succeeded".into(), "policy compiled and serving".into()));
    let s = c.status_patch(&key("a"), "t").unwrap();
    assert_eq!(s["status"]["conditions"][0]["observedGeneration"], 1);
}

#[test]
fn a_broken_update_keeps_the_previous_version() {
    let mut c = Catalog::new();
    c.upsert(&good("a", 1)).unwrap();
    let outcome = c.upsert(&broken("a", 2)).unwrap();
    assert!(matches!(outcome, Outcome::Failed { previous_serves: true, .. }), "{outcome:?}");
    assert_eq!(names(&c), vec!["a"], "generation 1 keeps serving");
    let (ok, reason, message) = ready(&c, "a");
    assert!(!ok);
    assert_eq!(reason, "CompileFailed");
    assert!(message.ends_with("; the previous version (generation 1) keeps serving"), "{message}");
    assert_eq!(c.status_patch(&key("a"), "t").unwrap()["status"]["conditions"][0]["observedGeneration"], 2);
    // Fixed again.
    assert_eq!(c.upsert(&good("a", 3)), Ok(Outcome::Ready));
    assert!(ready(&c, "a").0);
}

#[test]
fn a_broken_new_policy_does_not_serve() {
    let mut c = Catalog::new();
    let outcome = c.upsert(&broken("b", 1)).unwrap();
    assert!(matches!(outcome, Outcome::Failed { previous_serves: false, .. }));
    assert!(names(&c).is_empty());
    assert_eq!(c.len(), 1);
    assert!(ready(&c, "b").2.ends_with("; not serving"));
}

#[test]
fn remove_and_order() {
    let mut c = Catalog::new();
    for name in ["c", "a", "b"] {
        c.upsert(&good(name, 1)).unwrap();
    }
    let ns = json!({"apiVersion": "kyverno.io/v1", "kind": "Policy",
        "metadata": {"name": "p", "namespace": "team-a"}, "spec": good("x", 1)["spec"].clone()});
    c.upsert(&ns).unwrap();
    assert_eq!(names(&c), vec!["a", "b", "c", "team-a/p"]);
    assert!(c.remove(&key("b")));
    assert!(!c.remove(&key("b")));
    assert_eq!(names(&c), vec!["a", "c", "team-a/p"]);
    assert!(c.status_patch(&key("b"), "t").is_none());
}

#[test]
fn replace_all_drops_deleted_and_keeps_good_versions() {
    let mut c = Catalog::new();
    c.upsert(&good("a", 1)).unwrap();
    c.upsert(&good("gone", 1)).unwrap();
    let outcomes = c.replace_all(&[broken("a", 2), good("new", 1), json!({"kind": "Pod"})]);
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[2].1.is_err());
    assert_eq!(names(&c), vec!["a", "new"]);
    assert!(!ready(&c, "a").0);
}

#[test]
fn sandbox_policies_compile() {
    let mut c = Catalog::new();
    let object = json!({"apiVersion": "palisade.dev/v1alpha1", "kind": "RuntimeClassPolicy",
        "metadata": {"name": "sandbox", "generation": 1, "uid": "x"}, "spec": {"fallbackRuntime": "kata"}});
    assert_eq!(c.upsert(&object), Ok(Outcome::Ready));
    let bad = json!({"apiVersion": "palisade.dev/v1alpha1", "kind": "RuntimeClassPolicy",
        "metadata": {"name": "bad"}, "spec": {"nope": 1}});
    assert!(matches!(c.upsert(&bad), Ok(Outcome::Failed { .. })));
    assert_eq!(c.policy_set().len(), 1);
}

#[test]
fn an_unknown_rule_field_fails_to_compile() {
    let mut p = good("a", 1);
    let rule = p["spec"]["rules"][0].as_object_mut().unwrap();
    let validate = rule.remove("validate").unwrap();
    rule.insert("notAField".into(), validate);
    assert!(compile(&p).is_err());
}
