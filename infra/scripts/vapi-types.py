#!/usr/bin/env python3
"""Writes tests/fixtures/vapi/vapi-types.json: the field names of the Vapi
types CallOps's fixtures use, read from the TypeScript types of
@vapi-ai/server-sdk (generated from Vapi's OpenAPI document).

    infra/scripts/vapi-types.py [VERSION]

fetches the package with `npm pack` into a temporary directory (the
version defaults to the one recorded in the JSON file) and rewrites the
file. The fixtures test (`callops-tests`, `vapi_fixtures`) checks every key
of every fixture against these fields.
"""
import json
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/vapi/vapi-types.json"
TYPES = [
    "ServerMessageEndOfCallReport", "ServerMessageStatusUpdate", "ServerMessageTransferUpdate", "ServerMessageSpeechUpdate",
    "Artifact", "Recording", "Mono", "TransferArtifact", "TransferDestinationNumber", "TransferDestinationSip",
    "TransferDestinationAssistant", "PerformanceMetrics", "TurnLatency", "Analysis", "Call", "CreateCustomerDto",
    "AssistantOverrides", "CostBreakdown", "AnalysisCostBreakdown", "Compliance", "RecordingConsent", "TransportCost", "TranscriberCost",
    "ModelCost", "VoiceCost", "VapiCost", "AnalysisCost", "VoicemailDetectionCost", "KnowledgeBaseCost",
]
FIELD = re.compile(r"^    (\w+)\??: ")


def fields(path: pathlib.Path) -> list[str]:
    names, inside = [], False
    for line in path.read_text().splitlines():
        if line.startswith("export interface "):
            inside = True
        elif inside and line.startswith("}"):
            break
        elif inside and (m := FIELD.match(line)):
            names.append(m.group(1))
    return sorted(set(names))


def main() -> None:
    version = sys.argv[1] if len(sys.argv) > 1 else json.loads(OUT.read_text())["version"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"@vapi-ai/server-sdk@{version}", "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        tarball = next(pathlib.Path(tmp).glob("*.tgz"))
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        types = pathlib.Path(tmp) / "package/dist/cjs/api/types"
        out = {
            "source": "@vapi-ai/server-sdk (generated from Vapi's OpenAPI document), dist/cjs/api/types",
            "version": version,
            "regenerate": "infra/scripts/vapi-types.py [VERSION]",
            "types": {name: fields(types / f"{name}.d.ts") for name in TYPES},
        }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} from @vapi-ai/server-sdk {version}")


if __name__ == "__main__":
    main()
