use serde_json::json;

/// The in-place interpreter and the crate's interpreter agree, results and errors alike.
#[test]
fn agrees_with_the_crate_interpreter() {
    let data = json!({
        "request": {"operation": "CREATE", "object": {
            "metadata": {"name": "web", "labels": {"z": "1", "app": "web", "b": ""}},
            "spec": {"containers": [
                {"name": "a", "image": "nginx:1", "ports": [{"hostPort": 80}, {"containerPort": 8}]},
                {"name": "b", "image": "ghcr.io/x/y@sha256:ab", "securityContext": {"privileged": true}}],
                "initContainers": [{"name": "i", "ports": [{"hostPort": 8}]}],
                "volumes": [{"name": "v", "hostPath": {"path": "/"}}, {"name": "w", "emptyDir": {}}]}}},
        "nums": [3, 1.0, 2.5, -4, 1], "words": ["b", "a", "ünï"], "empty": [], "obj": {"y": 2, "x": 1},
        "nested": [[1, 2], [3, [4]], 5]
    });
    let cases = [
        "request.operation || 'BACKGROUND'",
        "request.missing || 'BACKGROUND'",
        "request.operation && `false`",
        "!request.object.spec.hostNetwork",
        "request.object.spec.[ephemeralContainers, initContainers, containers][].ports[].hostPort",
        "request.object.spec.volumes[].keys(@)[] || ''",
        "request.object.spec.containers[?securityContext.privileged == `true`].name",
        "request.object.spec.containers[?name != 'a'] | length(@)",
        "request.object.metadata.labels",
        "request.object.metadata.labels.*",
        "request.object.metadata.labels | keys(@)",
        "request.object.metadata.labels | values(@)",
        "request.object.metadata.{n: name, l: labels}",
        "request.object.spec.containers[*].[name, image]",
        "request.object.spec.containers[0].ports[-1]",
        "request.object.spec.containers[-5]",
        "nums[1:3]",
        "nums[::-1]",
        "nums[-2:]",
        "nums[5:1:-2]",
        "empty[:]",
        "obj[1:]",
        "nums[?@ > `1`]",
        "nums[?@ == `1`]",
        "nums[0] < nums[1]",
        "words[0] < words[1]",
        "obj == {x: `1`, y: `2`}",
        "sort_by(request.object.spec.containers, &name)[].name",
        "map(&length(@), words)",
        "max_by(request.object.spec.containers, &length(name)).name",
        "length(words[2])",
        "length(obj)",
        "contains(nums, `2.5`)",
        "contains(words, 'a')",
        "contains('abc', 'b')",
        "starts_with(request.object.spec.containers[1].image, 'ghcr')",
        "ends_with(words[0], 'b')",
        "not_null(request.x, request.operation)",
        "not_null(request.x)",
        "to_string(obj)",
        "type(nums)",
        "nested[]",
        "nested[][]",
        "nested[*][0]",
        "obj.*",
        "`{\"b\": 1, \"a\": 2}`",
        "[obj, `null`]",
        "request.object.spec.containers[].ports[?hostPort].hostPort",
        "request.object | keys(@)",
        "length(`null`)",
        "keys(words)",
        "contains(`1`, 'a')",
        "unknown_function(@)",
        "nums[::0]",
        "request.object.spec.containers[].name | join(',', @)",
        "sum(nums)",
        "split('a,b', ',')",
        "request.object.spec.volumes[?hostPath].name | [0]",
        "@",
        "obj.y.keys(@)",
        "@.request.operation",
    ];
    for expr in cases {
        let compiled = crate::compile(expr).unwrap();
        let direct = compiled.search(&data);
        let whole = compiled.search_whole(&data);
        match (&direct, &whole) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{expr}");
                assert_eq!(a.to_string(), b.to_string(), "{expr}: key order");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{expr}"),
            _ => panic!("{expr}: direct {direct:?}, crate {whole:?}"),
        }
    }
}

/// Mounted values read exactly as if they were in the document.
#[test]
fn mounts_read_as_if_in_the_document() {
    let object =
        json!({"metadata": {"name": "web", "labels": {"b": "1", "a": "2"}}, "spec": {"containers": [{"name": "c"}]}});
    let old = json!({"metadata": {"name": "old"}});
    let full = json!({"request": {"operation": "UPDATE", "object": object, "oldObject": old}, "images": {}});
    let base = json!({"request": {"operation": "UPDATE"}, "images": {}});
    let (object_path, old_path) = (["request", "object"], ["request", "oldObject"]);
    let mounts = [crate::Mount { path: &object_path, value: &object }, crate::Mount { path: &old_path, value: &old }];
    let cases = [
        "request.object.metadata.name",
        "request.oldObject.metadata.name",
        "request.object",
        "request",
        "@",
        "keys(request)",
        "request.operation || 'x'",
        "[request.object.spec.containers[0].name, request.operation]",
        "request.object.metadata.labels",
        "to_string(request.object.metadata)",
        "request.object.spec.containers[].name",
        "request.object.missing.deeper",
        "images",
        "*.operation",
        "request.*",
        "length(@)",
        "request.object == request.oldObject",
    ];
    for expr in cases {
        let compiled = crate::compile(expr).unwrap();
        let want = compiled.search(&full).unwrap();
        let got = compiled.search_mounted(&base, &mounts).unwrap();
        assert_eq!(got.to_string(), want.to_string(), "{expr}");
    }
}

/// What an expression reads of its document is found from its structure, so callers can skip
/// building parts of the document nothing reads.
#[test]
fn reads_only_under_follows_the_expression_structure() {
    let allowed: &[&[&str]] = &[&["request", "object"], &["request", "operation"], &["images"]];
    let cases = [
        ("request.operation || 'BACKGROUND'", true),
        ("request.object.spec.[ephemeralContainers, initContainers, containers][].ports[].hostPort", true),
        ("request.object.spec.volumes[].keys(@)[] || ''", true),
        ("request.object.spec.containers[?name != request.userInfo.username].name", true),
        ("length(request.object.spec.containers) > `1` && images.containers.*.tag", true),
        ("request.object.metadata.labels | keys(@)", true),
        ("sort_by(request.object.spec.containers, &name)", true),
        ("`{\"a\": 1}`", true),
        ("request.userInfo.username", false),
        ("request", false),
        ("request.operation == serviceAccountName", false),
        ("@", false),
        ("[0]", false),
        ("to_string(@)", false),
        ("{op: request.operation, ns: request.namespace}", false),
        ("request.object.metadata.name || element.name", false),
    ];
    for (expr, want) in cases {
        let compiled = crate::compile(expr).unwrap();
        assert_eq!(compiled.reads_only_under(allowed), want, "{expr}");
    }
}

/// A list's items come back borrowed from the document where the expression selects them in place (keys in
/// document order), and as `search` gives them where the expression computes them.
#[test]
fn search_items_borrows_selected_items_and_finishes_computed_ones() {
    use std::borrow::Cow;
    let data = json!({"spec": {
        "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}],
        "initContainers": [{"name": "i", "image": "z"}],
        "one": {"b": 1, "a": 2},
        "none": null
    }});
    let items = |expr: &str| -> Option<Vec<(bool, String)>> {
        let compiled = crate::compile(expr).unwrap();
        let items = compiled.search_items(&data, &[]).unwrap()?;
        let borrowed = |c: &Cow<'_, serde_json::Value>| matches!(c, Cow::Borrowed(_));
        Some(items.iter().map(|c| (borrowed(c), c.to_string())).collect())
    };
    let container = |name: &str, image: &str| format!(r#"{{"name":"{name}","image":"{image}"}}"#);
    for expr in ["spec.containers", "spec.containers[]", "spec.containers[*]"] {
        assert_eq!(items(expr), Some(vec![(true, container("a", "x")), (true, container("b", "y"))]), "{expr}");
    }
    assert_eq!(
        items("spec.[initContainers, containers][]").map(|v| v.len()),
        Some(3),
        "a flattened multi-list borrows each element"
    );
    assert!(items("spec.[initContainers, containers][]").unwrap().iter().all(|(borrowed, _)| *borrowed));
    assert_eq!(items("spec.one"), Some(vec![(true, r#"{"b":1,"a":2}"#.to_string())]), "a single value");
    assert_eq!(items("spec.none"), None);
    assert_eq!(items("spec.missing"), None);
    // Computed values are finished as `search` finishes them: sorted keys.
    assert_eq!(items("[spec.one]"), Some(vec![(true, r#"{"b":1,"a":2}"#.to_string())]));
    assert_eq!(items("merge(spec.one, `{}`)"), Some(vec![(false, r#"{"a":2,"b":1}"#.to_string())]));
    assert_eq!(
        items("spec.containers[].name"),
        Some(vec![(true, "\"a\"".to_string()), (true, "\"b\"".to_string())]),
        "strings selected in place"
    );
    assert_eq!(items("length(spec.containers)"), Some(vec![(false, "2".to_string())]));
    // Whatever the route, the items equal the elements of `search`'s array.
    for expr in ["spec.containers[]", "spec.[initContainers, containers][]", "spec.containers[].name"] {
        let compiled = crate::compile(expr).unwrap();
        let whole = compiled.search(&data).unwrap();
        let listed: Vec<serde_json::Value> =
            compiled.search_items(&data, &[]).unwrap().unwrap().into_iter().map(Cow::into_owned).collect();
        assert_eq!(serde_json::Value::Array(listed), whole, "{expr}");
    }
}

#[test]
fn calls_functions_finds_any_call() {
    for (expr, calls) in [
        ("request.operation || 'BACKGROUND'", false),
        ("request.object.spec.[a, b][].c", false),
        ("a[?b == 'c'].d | [0]", false),
        ("time_now_utc()", true),
        ("request.operation || to_string(`1`)", true),
        ("a[?length(b) > `0`]", true),
    ] {
        assert_eq!(crate::compile(expr).unwrap().calls_functions(), calls, "{expr}");
    }
}
