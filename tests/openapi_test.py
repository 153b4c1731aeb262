#!/usr/bin/env python3
"""docs/openapi.yaml against the node's route table (api::RouteTable, printed by
tests/api_route_table): every route and method documented and nothing else; every status a
route declares documented, and no other status except the ones any route or the server may
give; an operationId (unique), tags (declared at the top), path parameters and at least one
example per operation; the default server port of api.listen (8080).

    python3 tests/openapi_test.py BUILD/tests/api_route_table docs/openapi.yaml
"""
import json
import re
import subprocess
import sys

import yaml

ANY_ROUTE = {500}                      # internal error
SERVER = {400, 413, 429, 431, 503}     # answered by the server itself (api/server.h)
METHODS = {"get", "post", "put", "delete", "patch"}


def norm(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def has_example(node):
    if isinstance(node, dict):
        if "example" in node or "examples" in node:
            return True
        return any(has_example(v) for v in node.values())
    if isinstance(node, list):
        return any(has_example(v) for v in node)
    return False


def main():
    routes = json.loads(subprocess.run([sys.argv[1]], check=True, capture_output=True,
                                       text=True).stdout)
    with open(sys.argv[2], encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    errors = []
    url = spec.get("servers", [{}])[0].get("url", "")
    if not url.endswith(":8080"):
        errors.append(f"servers[0].url {url!r}: the default api.listen port is 8080")
    declared_tags = {t["name"] for t in spec.get("tags", [])}
    if not declared_tags:
        errors.append("no top-level tags")
    table = {(r["method"].lower(), norm(r["pattern"])): r for r in routes}
    documented = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                documented[(method, norm(path))] = (path, op)
    for key in sorted(set(table) - set(documented)):
        errors.append(f"route {key[0].upper()} {table[key]['pattern']} is not documented")
    for key in sorted(set(documented) - set(table)):
        errors.append(f"documented {key[0].upper()} {documented[key][0]} is not a route")
    op_ids = {}
    for key, (path, op) in sorted(documented.items()):
        name = f"{key[0].upper()} {path}"
        op_id = op.get("operationId")
        if not op_id:
            errors.append(f"{name}: no operationId")
        elif op_id in op_ids:
            errors.append(f"{name}: operationId {op_id} also on {op_ids[op_id]}")
        else:
            op_ids[op_id] = name
        tags = op.get("tags") or []
        if not tags:
            errors.append(f"{name}: no tags")
        for t in tags:
            if t not in declared_tags:
                errors.append(f"{name}: tag {t!r} not declared at the top")
        if not has_example(op):
            errors.append(f"{name}: no example")
        params = set(re.findall(r"\{([^}]*)\}", path))
        in_path = {p["name"] for p in op.get("parameters", []) + spec["paths"][path].get(
            "parameters", []) if isinstance(p, dict) and p.get("in") == "path"}
        refs = [p["$ref"] for p in op.get("parameters", []) if isinstance(p, dict) and "$ref" in p]
        for ref in refs:
            p = spec["components"]["parameters"][ref.split("/")[-1]]
            if p.get("in") == "path":
                in_path.add(p["name"])
        if params != in_path:
            errors.append(f"{name}: path parameters {sorted(params)} vs documented {sorted(in_path)}")
        codes = {int(c) for c in op.get("responses", {})}
        route = table.get(key)
        if route is None:
            continue
        for status in route["statuses"]:
            if status not in codes:
                errors.append(f"{name}: status {status} (declared by the route) not documented")
        for code in codes - set(route["statuses"]) - ANY_ROUTE - SERVER:
            errors.append(f"{name}: status {code} documented but the route never answers it")
    if errors:
        print("openapi_test: FAIL\n  " + "\n  ".join(errors))
        return 1
    print(f"openapi_test: {len(documented)} operations match the route table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
