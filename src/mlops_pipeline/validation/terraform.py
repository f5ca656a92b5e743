"""What the Terraform module grants the Step Functions role, read with python-hcl2 (no terraform run).

The role is ``aws_iam_role.states``; its grants are the statements (``dynamic "statement"`` blocks
included) of the ``aws_iam_policy_document``s that its ``aws_iam_role_policy`` resources attach. A policy
attached with ``count`` (an optional feature, such as the real-time endpoint's grants) gives conditional
grants: they exist only when the count's expression (kept as text) says so. Resource
strings are evaluated against the deploy target: ``var.pipeline_name``/``var.region``, the account and
partition, ``local.bucket_arns``/``local.bucket_names`` (the target's buckets: the ones deploy uses),
``aws_iam_role.sagemaker.arn`` and the module's plain locals and variable defaults. Anything else (a
key ARN, a conditional) stays unresolved and is taken to cover what is asked of it. Conditions and
Deny statements are not evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.target import STORES, Target

ROLE = "states"
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
_REFERENCE = re.compile(r"^(?P<path>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\"[^\"]*\"\])*)$")


class Unresolved(str):
    """A Terraform value this reader cannot compute (printed as the expression)."""


@dataclass(frozen=True)
class Grant:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # evaluated; Unresolved items cover anything
    only_if: str = ""  # the ``count`` of a conditionally attached policy: granted only when it is 1


@dataclass(frozen=True)
class RoleGrants:
    document: str  # e.g. data.aws_iam_policy_document.states
    grants: tuple[Grant, ...]
    stores_use_kms: bool  # an S3 store is encrypted with SSE-KMS


def read(directory: Path, target: Target) -> RoleGrants:
    """The Step Functions role's grants in ``directory``; PipelineError when it cannot be read."""
    blocks = _parse(directory)
    values = _Evaluator(blocks, target)
    attached = _attached_documents(blocks)
    grants = []
    for name, only_if in attached:
        document = blocks["data"].get("aws_iam_policy_document", {}).get(name)
        if document is None:
            raise PipelineError(f"{directory}: no aws_iam_policy_document {name!r} attached to aws_iam_role.{ROLE}")
        for statement in _statements(document):
            if _plain(statement.get("effect", "Allow")) != "Allow":
                continue
            actions = tuple(_plain(a) for a in _as_list(values.value(statement.get("actions", []))))
            resources = tuple(_resource(r) for r in _as_list(values.value(statement.get("resources", []))))
            grants.append(Grant(_plain(statement.get("sid", "")), actions, resources, only_if))
    return RoleGrants(f"data.aws_iam_policy_document.{attached[0][0]}", tuple(grants), _stores_use_kms(blocks))


def _parse(directory: Path) -> dict:
    import hcl2

    merged: dict = {"resource": {}, "data": {}, "variable": {}, "locals": {}}
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise PipelineError(f"{directory}: no Terraform files (*.tf) here")
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                parsed = hcl2.load(handle)
        except Exception as problem:  # python-hcl2 raises lark's errors
            first = str(problem).strip().splitlines()[0] if str(problem).strip() else type(problem).__name__
            raise PipelineError(f"{path}: not readable HCL ({first})") from None
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for type_, named in block.items():
                    merged[kind].setdefault(_plain(type_), {}).update({_plain(k): v for k, v in named.items()})
        for block in parsed.get("variable", []):
            merged["variable"].update({_plain(k): v for k, v in block.items()})
        for block in parsed.get("locals", []):
            merged["locals"].update({k: v for k, v in block.items() if not k.startswith("__")})
    return merged


def _attached_documents(blocks: dict) -> list[tuple[str, str]]:
    """(policy document, ``count`` expression or "") of each ``aws_iam_role_policy`` of the Step Functions role."""
    attached = []
    for policy in blocks["resource"].get("aws_iam_role_policy", {}).values():
        if f"aws_iam_role.{ROLE}." in str(policy.get("role", "")):
            match = re.search(r"data\.aws_iam_policy_document\.([\w-]+)", str(policy.get("policy", "")))
            if match:
                count = policy.get("count")
                attached.append((match.group(1), "" if count is None else _plain(str(count)).strip("${}")))
    if not attached:
        raise PipelineError(f"no aws_iam_role_policy attaches a policy document to aws_iam_role.{ROLE}")
    attached.sort(key=lambda item: item[1] != "")  # the unconditional document first
    return attached


def _statements(document: dict) -> list[dict]:
    statements = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        for key, block in dynamic.items():
            if _plain(key) == "statement":
                statements += block.get("content", [])
    return statements


def _stores_use_kms(blocks: dict) -> bool:
    for config in blocks["resource"].get("aws_s3_bucket_server_side_encryption_configuration", {}).values():
        for rule in config.get("rule", []):
            for default in rule.get("apply_server_side_encryption_by_default", []):
                if _plain(default.get("sse_algorithm", "")) == "aws:kms":
                    return True
    return False


class _Evaluator:
    """Terraform strings and references, as far as the target and the module's plain values allow."""

    def __init__(self, blocks: dict, target: Target):
        self.blocks = blocks
        arns = {store: f"arn:{target.partition}:s3:::{target.bucket(store)}" for store in STORES}
        self.known = {
            "var.pipeline_name": target.pipeline_name,
            "var.region": target.region,
            "local.account_id": target.account_id,
            "local.partition": target.partition,
            "data.aws_caller_identity.current.account_id": target.account_id,
            "data.aws_partition.current.partition": target.partition,
            "local.bucket_arns": arns,
            "local.bucket_names": {store: target.bucket(store) for store in STORES},
            f"aws_iam_role.{ROLE}.arn": target.step_functions_role_arn,
            "aws_iam_role.sagemaker.arn": target.sagemaker_role_arn,
        }
        self.depth = 0

    def value(self, raw):
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {k: self.value(v) for k, v in raw.items() if not k.startswith("__")}
        if not isinstance(raw, str):
            return raw
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return self.template(raw[1:-1])
        whole = _INTERPOLATION.fullmatch(raw)
        return self.expression(whole.group(1)) if whole else self.template(raw)

    def template(self, text: str):
        parts, position = [], 0
        for match in _INTERPOLATION.finditer(text):
            parts.append(text[position : match.start()])
            value = self.expression(match.group(1))
            if isinstance(value, Unresolved) or not isinstance(value, str):
                return Unresolved(text)
            parts.append(value)
            position = match.end()
        parts.append(text[position:])
        return "".join(parts)

    def expression(self, text: str):
        text = text.strip()
        call = re.fullmatch(r"values\((.*)\)", text)
        if call:
            inner = self.expression(call.group(1))
            return list(inner.values()) if isinstance(inner, dict) else Unresolved(text)
        if not _REFERENCE.match(text):
            return Unresolved(text)
        return self.reference(text)

    def reference(self, text: str):
        if text in self.known:
            return self.known[text]
        for prefix, value in self.known.items():
            if text.startswith(prefix + "[") or text.startswith(prefix + "."):
                return _index(value, text[len(prefix) :], text)
        parts = re.findall(r"[A-Za-z_][\w-]*|\[\"[^\"]*\"\]", text)
        if parts[0] == "local" and len(parts) > 1 and parts[1] in self.blocks["locals"]:
            return self._nested(self.blocks["locals"][parts[1]], "".join(f".{p}" for p in parts[2:]), text)
        if parts[0] == "var" and len(parts) > 1 and parts[1] in self.blocks["variable"]:
            default = self.blocks["variable"][parts[1]].get("default")
            return (
                self._nested(default, "".join(f".{p}" for p in parts[2:]), text)
                if default is not None
                else (Unresolved(text))
            )
        return Unresolved(text)

    def _nested(self, raw, rest: str, text: str):
        if self.depth > 20:
            return Unresolved(text)
        self.depth += 1
        try:
            return _index(self.value(raw), rest, text)
        finally:
            self.depth -= 1


def _index(value, rest: str, text: str):
    for key in re.findall(r"\.([A-Za-z_][\w-]*)|\[\"([^\"]*)\"\]", rest):
        name = key[0] or key[1]
        if not isinstance(value, dict) or name not in value:
            return Unresolved(text)
        value = value[name]
    return value


def _resource(value) -> str:
    return value if isinstance(value, str) else Unresolved(str(value))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _plain(value) -> str:
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
