"""Lints and renders charts/palisade with Helm's own Go SDK (helm-python-sdk, libhelm_c over Helm v4).

    python check.py CHART [--out DIR]

For every value variant below: `helm lint` (errors fail, warnings are printed) and `helm template`; each
rendered manifest must parse as YAML, carry apiVersion/kind/metadata.name, sit in the release namespace
when namespaced, and the variant must render exactly the expected kinds. With --out, each variant's
values and rendered manifests are written to DIR/<variant>.json (for the Rust chart tests and the e2e
server-side dry run) and its documents to DIR/<variant>.yaml.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import helm_python as helm
import yaml
from helm_python import _native

RELEASE = "palisade"
NAMESPACE = "palisade"
# What the chart's pdb.yaml asks `.Capabilities.APIVersions.Has` for (policy/v1 from Kubernetes 1.21).
MODERN_APIS = ["policy/v1/PodDisruptionBudget"]
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
BASE_KINDS = Counter(
    {
        "ServiceAccount": 1,
        "ClusterRole": 1,
        "ClusterRoleBinding": 1,
        "Role": 1,
        "RoleBinding": 1,
        "Deployment": 1,
        "PodDisruptionBudget": 1,
        "Service": 2,
        "Job": 1,
    }
)

# The value sets values.yaml documents, with the kinds each must render (a Counter of kind -> count)
# and the PodDisruptionBudget apiVersion (None: no PDB).
VARIANTS = [
    {"name": "default", "values": {}, "api_versions": [], "kinds": BASE_KINDS, "pdb": "policy/v1beta1"},
    {"name": "modern", "values": {}, "api_versions": MODERN_APIS, "kinds": BASE_KINDS, "pdb": "policy/v1"},
    {
        "name": "monitoring",
        "values": {
            "replicaCount": 5,
            "createNamespace": True,
            "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
            "extraArgs": ["--workers=2"],
            "rbac": {"extraRules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}]},
            "podDisruptionBudget": {"maxUnavailable": 2},
        },
        "api_versions": MODERN_APIS,
        "kinds": BASE_KINDS + Counter({"Namespace": 1, "ServiceMonitor": 1}),
        "pdb": "policy/v1",
    },
    {
        "name": "minimal",
        "values": {
            "replicaCount": 1,
            "metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}},
            "rbac": {"create": False},
            "podDisruptionBudget": {"enabled": False},
            "uninstallHook": {"enabled": False},
        },
        "api_versions": [],
        "kinds": Counter({"ServiceAccount": 1, "Deployment": 1, "Service": 1}),
        "pdb": None,
    },
    {
        "name": "renamed",
        "values": {"fullnameOverride": "guard", "webhook": {"configurationName": "guard"}},
        "api_versions": MODERN_APIS,
        "kinds": BASE_KINDS,
        "pdb": "policy/v1",
    },
]


class CheckError(Exception):
    """A chart check that failed."""


def render(chart: helm.Chart, values: dict, api_versions: list[str]) -> dict[str, str]:
    """`helm template --api-versions ...`: the SDK's public Chart.render has no api_versions option, but
    libhelm_c's helm_render takes it in the same options object (pinned helm-python-sdk 0.2.2)."""
    if not api_versions:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)
    opts = {"name": RELEASE, "namespace": NAMESPACE, "api_versions": api_versions}
    rendered = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(opts))
    return json.loads(rendered)


def lint(chart_dir: Path, variant: dict) -> int:
    """Runs helm lint for a variant; prints findings; returns the number of errors."""
    report = helm.lint(str(chart_dir), variant["values"], namespace=NAMESPACE, kube_version="v1.20.2")
    severities = {1: "INFO", 2: "WARNING", 3: "ERROR"}
    errors = 0
    for message in report.get("messages") or []:
        severity = severities.get(message.get("severity"), "UNKNOWN")
        errors += severity == "ERROR"
        out = sys.stderr if severity == "ERROR" else sys.stdout
        print(f"helm lint ({variant['name']}) [{severity}] {message.get('path')}: {message.get('error')}", file=out)
    # `errors` repeats the ERROR messages; count it only when it says more.
    return max(errors, len(report.get("errors") or []))


def documents(manifests: dict[str, str]) -> list[dict]:
    """Parses every rendered YAML template into its documents (NOTES.txt must render too)."""
    docs = []
    for path, text in sorted(manifests.items()):
        if "{{" in text:
            raise CheckError(f"{path}: unrendered template text")
        if not path.endswith((".yaml", ".yml")):
            continue
        try:
            parsed = list(yaml.safe_load_all(text))
        except yaml.YAMLError as err:
            raise CheckError(f"{path} does not parse as YAML: {err}\n{text}") from err
        for doc in parsed:
            if doc is None:
                continue
            if not isinstance(doc, dict) or not all(doc.get(k) for k in ("apiVersion", "kind", "metadata")):
                raise CheckError(f"{path}: not a Kubernetes object: {doc!r}")
            docs.append(doc)
    return docs


def check_variant(chart: helm.Chart, variant: dict) -> tuple[dict[str, str], list[dict]]:
    """Renders a variant and checks its objects; raises CheckError."""
    manifests = render(chart, variant["values"], variant["api_versions"])
    docs = documents(manifests)
    kinds = Counter(doc["kind"] for doc in docs)
    if kinds != variant["kinds"]:
        raise CheckError(f"kinds {dict(kinds)}, expected {dict(variant['kinds'])}")
    merged = chart.merge_values(variant["values"])
    fullname = merged.get("fullnameOverride") or RELEASE
    for doc in docs:
        meta = doc["metadata"]
        if not meta.get("name"):
            raise CheckError(f"{doc['kind']} without a name")
        namespaced = doc["kind"] not in CLUSTER_SCOPED
        if namespaced and meta.get("namespace") != NAMESPACE:
            raise CheckError(f"{doc['kind']}/{meta['name']} not in namespace {NAMESPACE}")
        if doc["kind"] == "Deployment":
            if meta["name"] != fullname:
                raise CheckError(f"Deployment {meta['name']}, expected {fullname}")
            if doc["spec"]["replicas"] != merged["replicaCount"]:
                raise CheckError(f"replicas {doc['spec']['replicas']}, expected {merged['replicaCount']}")
        if doc["kind"] == "PodDisruptionBudget" and doc["apiVersion"] != variant["pdb"]:
            raise CheckError(f"PodDisruptionBudget {doc['apiVersion']}, expected {variant['pdb']}")
    return manifests, docs


def check_crds(chart: helm.Chart) -> None:
    """The chart's crds/ holds the three CustomResourceDefinitions `palisade crds` prints."""
    names = set()
    for crd in chart.crds:
        for doc in yaml.safe_load_all(crd["data"]):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                names.add(doc["metadata"]["name"])
    expected = {"clusterpolicies.kyverno.io", "policies.kyverno.io", "runtimeclasspolicies.palisade.dev"}
    if names != expected:
        raise CheckError(f"crds/: {sorted(names)}, expected {sorted(expected)}")


def self_test(chart_dir: Path) -> None:
    """The checks must fail on broken copies of the chart: a template error (lint), a missing
    object (kinds) and output that is not YAML (parse)."""
    breakages = {
        "a template error": ("templates/broken.yaml", "data: {{ .Values.nope.deeper }}\n"),
        "a missing object": ("templates/pdb.yaml", ""),
        "output that is not YAML": ("templates/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [a\n"),
    }
    for what, (path, text) in breakages.items():
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "palisade"
            shutil.copytree(chart_dir, copy)
            (copy / path).write_text(text)
            variant = VARIANTS[0]
            caught = lint(copy, variant) > 0
            with helm.Chart.load(str(copy)) as chart:
                try:
                    check_variant(chart, variant)
                except (CheckError, helm.HelmError):
                    caught = True
            if not caught:
                raise CheckError(f"self-test: a chart with {what} passed")
            print(f"self-test: a chart with {what} fails")


def main() -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chart", type=Path)
    parser.add_argument("--out", type=Path, help="write <variant>.json/.yaml renders here")
    parser.add_argument("--self-test", action="store_true", help="first check that broken charts fail")
    args = parser.parse_args()
    print(f"helm SDK {helm.helm_sdk_version()} (libhelm_c {helm.helm_c_version()})")
    if args.self_test:
        try:
            self_test(args.chart)
        except CheckError as err:
            print(err, file=sys.stderr)
            return 1
    failures = 0
    with helm.Chart.load(str(args.chart)) as chart:
        try:
            check_crds(chart)
        except CheckError as err:
            print(f"chart crds: {err}", file=sys.stderr)
            failures += 1
        for variant in VARIANTS:
            failures += lint(args.chart, variant)
            try:
                manifests, docs = check_variant(chart, variant)
            except (CheckError, helm.HelmError) as err:
                print(f"helm template ({variant['name']}): {err}", file=sys.stderr)
                failures += 1
                continue
            print(f"helm template ({variant['name']}): {len(docs)} objects ok")
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                record = {
                    "name": variant["name"],
                    "release": RELEASE,
                    "namespace": NAMESPACE,
                    "values": variant["values"],
                    "api_versions": variant["api_versions"],
                    "manifests": manifests,
                }
                (args.out / f"{variant['name']}.json").write_text(json.dumps(record, indent=1))
                (args.out / f"{variant['name']}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    if failures:
        print(f"chart check: {failures} failure(s)", file=sys.stderr)
        return 1
    print("chart check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
