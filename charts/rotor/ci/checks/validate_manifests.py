#!/usr/bin/env python3
"""Validates rendered chart manifests against their API schemas.

Kubernetes kinds are checked with the `kubernetes-validate` package (strict
schemas: unknown fields fail, as with `kubectl apply --validate=strict`).
Custom resources are checked against the CRD schemas kept beside this
directory in ../schemas/crds/, made strict the way the API server's pruning
and strict field validation are: an object schema with `properties` and
neither `additionalProperties` nor `x-kubernetes-preserve-unknown-fields`
rejects fields it does not list.

Usage: validate_manifests.py --kube-version 1.33 --crds DIR RENDERED.yaml...
Prints one line per file with the count of manifests per kind; exits 1 on
the first file with any invalid manifest (after reporting all its errors).
"""

from __future__ import annotations

import argparse
import collections
import copy
import pathlib
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

# Kinds the chart may render that live outside any namespace.
CLUSTER_SCOPED = {
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("v1", "Namespace"),
}

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Problem(Exception):
    """A manifest that would be refused by the API server."""


def strict_openapi(schema: object) -> object:
    """Returns a copy of an OpenAPI v3 schema that rejects unlisted fields."""
    if isinstance(schema, list):
        return [strict_openapi(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict_openapi(value) for key, value in schema.items()}
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def load_crd_schemas(directory: pathlib.Path) -> dict[tuple[str, str], dict]:
    """Maps (apiVersion, kind) to {"scope", "validator"} for each schema file."""
    schemas = {}
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for key in ("apiVersion", "kind", "scope", "schema"):
            if key not in doc:
                raise SystemExit(f"error: CRD schema {path}: missing `{key}`")
        schema = strict_openapi(copy.deepcopy(doc["schema"]))
        jsonschema.Draft7Validator.check_schema(schema)
        schemas[(doc["apiVersion"], doc["kind"])] = {
            "scope": doc["scope"],
            "validator": jsonschema.Draft7Validator(schema),
            "source": path.name,
        }
    return schemas


def check_metadata(doc: dict, namespaced: bool) -> list[str]:
    """Name and namespace rules the API server enforces for every object."""
    problems = []
    meta = doc.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return ["metadata.name is missing"]
    if len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        problems.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    namespace = meta.get("namespace")
    if namespaced:
        if not namespace:
            problems.append("namespaced object without metadata.namespace")
        elif not DNS1123_LABEL.match(namespace) or len(namespace) > 63:
            problems.append(f"metadata.namespace {namespace!r} is not a DNS-1123 label")
    elif namespace:
        problems.append(f"cluster-scoped object carries metadata.namespace {namespace!r}")
    for field in ("labels", "annotations"):
        for key, value in (meta.get(field) or {}).items():
            if not isinstance(value, str):
                problems.append(f"metadata.{field}.{key} is not a string")
    for key, value in (meta.get("labels") or {}).items():
        if isinstance(value, str) and len(value) > 63:
            problems.append(f"label {key} value is longer than 63 characters")
    return problems


def check_kind_rules(doc: dict) -> list[str]:
    """Limits that the schemas do not express but the API server enforces."""
    problems = []
    kind = doc.get("kind")
    name = (doc.get("metadata") or {}).get("name", "")
    if kind == "CronJob" and len(name) > 52:
        problems.append(f"CronJob name {name!r} is longer than 52 characters (Job names would pass 63)")
    if kind in ("Job", "CronJob", "ServiceAccount", "Role", "RoleBinding", "ConfigMap") and len(name) > 253:
        problems.append(f"{kind} name is longer than 253 characters")
    if kind in ("CronJob", "Job"):
        job = (doc.get("spec") or {})
        if kind == "CronJob":
            job = ((job.get("jobTemplate") or {}).get("spec") or {})
        pod = ((job.get("template") or {}).get("spec") or {})
        if job.get("podFailurePolicy") and pod.get("restartPolicy") != "Never":
            problems.append("podFailurePolicy needs restartPolicy: Never")
    return problems


def validate_doc(doc: dict, crds: dict, kube_version: str) -> list[str]:
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not api_version or not kind:
        return ["manifest without apiVersion or kind"]
    crd = crds.get((api_version, kind))
    if crd is not None:
        errors = sorted(crd["validator"].iter_errors(doc), key=lambda e: list(e.absolute_path))
        problems = [
            f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message} ({crd['source']})"
            for e in errors
        ]
        return problems + check_metadata(doc, crd["scope"] == "Namespaced") + check_kind_rules(doc)
    try:
        kubernetes_validate.validate(doc, kube_version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {api_version} {kind}: add its CRD schema to the schemas directory"]
    except kubernetes_validate.ValidationError as err:
        path = ".".join(str(p) for p in err.absolute_path) or "<root>"
        return [f"{path}: {err.message} (Kubernetes {err.version} schema)"]
    namespaced = (api_version, kind) not in CLUSTER_SCOPED
    return check_metadata(doc, namespaced) + check_kind_rules(doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kube-version", required=True, help="e.g. 1.33")
    parser.add_argument("--crds", required=True, type=pathlib.Path, help="directory of CRD schema files")
    parser.add_argument("files", nargs="+", type=pathlib.Path)
    args = parser.parse_args()

    crds = load_crd_schemas(args.crds)
    failed = False
    for path in args.files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        kinds = collections.Counter(d.get("kind", "?") for d in docs)
        bad = 0
        # Two manifests for one object: the install would fail or one would win.
        idents = collections.Counter(
            (d.get("apiVersion"), d.get("kind"), (d.get("metadata") or {}).get("namespace"),
             (d.get("metadata") or {}).get("name"))
            for d in docs
        )
        for ident, count in idents.items():
            if count > 1:
                bad += 1
                print(f"  {path.name}: {ident[1]} {ident[2] or '-'}/{ident[3]}: rendered {count} times", file=sys.stderr)
        for doc in docs:
            problems = validate_doc(doc, crds, args.kube_version)
            if problems:
                bad += 1
                ident = f"{doc.get('kind')} {(doc.get('metadata') or {}).get('namespace', '-')}/{(doc.get('metadata') or {}).get('name')}"
                for problem in problems:
                    print(f"  {path.name}: {ident}: {problem}", file=sys.stderr)
        summary = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        status = "all valid" if bad == 0 else f"{bad} INVALID"
        print(f"{path.name}: {len(docs)} manifests, {status} against Kubernetes {args.kube_version} + CRD schemas ({summary})")
        failed = failed or bad > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
