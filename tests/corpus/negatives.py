"""Hard negatives of the labelled corpus: values a careless scanner reports. Placeholders, doc
examples, hashes, git SHAs, UUIDs, lockfile integrity strings, base64 images and certificates,
references to secrets (`${{ secrets.X }}`, `os.environ["X"]`), GitHub/npm-shaped tokens with a
wrong checksum, JWT-shaped strings that are not JWTs, model names next to provider keywords."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid

from tokens import github, pem_private_key

PLACEHOLDERS = [
    "OPENAI_API_KEY=sk-xxxx", "OPENAI_API_KEY=YOUR_API_KEY", "OPENAI_API_KEY=<OPENAI_KEY>",
    "OPENAI_API_KEY=sk-...", "ANTHROPIC_API_KEY=sk-ant-api03-...", "DB_PASSWORD=changeme",
    "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "MISTRAL_API_KEY=your_mistral_api_key_here", "COHERE_API_KEY=<your-cohere-key>",
    "DATABASE_URL=postgresql://user:password@localhost:5432/app",
    "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app", "REDIS_URL=redis://:{{ .Values.redis.password }}@cache:6379",
    "MONGODB_URI=mongodb+srv://<username>:<password>@cluster0.mongodb.net/test",
    "TAVILY_API_KEY=tvly-YOUR_API_KEY", "GROQ_API_KEY=gsk_...", "SLACK_BOT_TOKEN=xoxb-your-bot-token",
    "PINECONE_API_KEY=00000000-0000-0000-0000-000000000000", "WANDB_API_KEY=" + "0" * 40,
    "VAULT_TOKEN=s.xxxxxxxxxxxxxxxxxxxxxxxx", "AZURE_OPENAI_API_KEY=<azure-openai-key>",
    "NVIDIA_API_KEY=nvapi-...", "XAI_API_KEY=xai-" + "X" * 80, "JIRA_API_TOKEN=ATATT3...",
    "GEMINI_API_KEY=AIzaSy-your-api-key-here-0000000000",
    # widely published samples (detectors/samples.toml): the jwt.io token, Stripe's docs test key
    "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ikpv"
    "aG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "stripe.api_key = 'sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc'",
    # the tools agents hold: documentation placeholders and near-misses of the provider formats
    "STRIPE_SECRET_KEY=sk_live_...", "STRIPE_WEBHOOK_SECRET=whsec_...", "SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxx",
    "DD_API_KEY=<your-datadog-api-key>", "DD_SITE=datadoghq.eu", "SENTRY_DSN=https://<key>@o0.ingest.sentry.io/0",
    "DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/<id>/<token>",
    "AzureWebJobsStorage=UseDevelopmentStorage=true", "BRAVE_API_KEY=BSA-your-key", "SERPER_API_KEY=your_serper_api_key",
    "EXA_API_KEY=your-exa-api-key", "RESEND_API_KEY=re_123456789", "LINEAR_API_KEY=lin_api_...",
    "NOTION_TOKEN=ntn_...", "SUPABASE_SECRET_KEY=sb_secret_...", "HELICONE_API_KEY=sk-helicone-...",
    "OKTA_API_TOKEN=00<token>", "CLERK_SECRET_KEY=sk_test_...", "BROWSERBASE_API_KEY=bb_live_...",
    "VERCEL_TOKEN=vcp_...", "DOCKERHUB_TOKEN=dckr_pat_...", "TWINE_PASSWORD=pypi-AgEIcHlwaS5vcmc...",
]
REFERENCES = [
    "OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}", 'key = os.environ["ANTHROPIC_API_KEY"]',
    "token: {{ .Values.github.token }}", "export GITHUB_TOKEN=$GH_PAT", "const k = process.env.MISTRAL_API_KEY;",
    'client = OpenAI(api_key=os.getenv("OPENAI_API_KEY"))', "DEEPGRAM_API_KEY=${DEEPGRAM_API_KEY}",
    "password: !vault |", "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
    "from huggingface_hub import hf_hub_download, snapshot_download",
    "GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a  # the docs' example token",
    "resolved \"https://registry.npmjs.org/fw_utils/-/fw_utils-1.0.0.tgz\"",
    "const cursor = db.collection('runs').find({}).sort({ createdAt: -1 });",
    "SLACK_WEBHOOK_URL: ${{ secrets.SLACK_WEBHOOK_URL }}", 'stripe.api_key = os.environ["STRIPE_SECRET_KEY"]',
    "DATADOG_API_KEY=${DATADOG_API_KEY}", "token: {{ .Values.discord.botToken }}",
    "from e2b_code_interpreter import Sandbox", "pattern = re_compile(r'^[a-z]+$')",
    "supabase_publishable_key = sb_publishable_x8ZPxztDMvIGkbjqRoKi6h_lXA8UNdZ",
]


def hard_negatives(rng: random.Random) -> list[str]:
    """Lines (some multi-line) that must produce no finding."""
    out = list(PLACEHOLDERS) + list(REFERENCES)
    for _ in range(8):
        out.append(f"commit {rng.randbytes(20).hex()}")
        out.append(f"sha256 = \"{hashlib.sha256(rng.randbytes(8)).hexdigest()}\"")
        out.append(f"etag: \"{rng.randbytes(16).hex()}\"")
        out.append(f"request_id: {uuid.UUID(int=rng.getrandbits(128), version=4)}")
        out.append(json.dumps({"integrity": "sha512-" + base64.b64encode(rng.randbytes(64)).decode()}))
        out.append(f"GITHUB_TOKEN={github(rng, 'ghp', valid=False)}")
        out.append(f"NPM_TOKEN={github(rng, 'npm', valid=False)}")
        out.append(f"GH_TOKEN={github(rng, 'ghs', valid=False)}")
        out.append("session=" + base64.urlsafe_b64encode(b'{"not":"jwt"}').decode().rstrip("=") + "."
                   + base64.urlsafe_b64encode(rng.randbytes(30)).decode().rstrip("=") + "." + rng.randbytes(20).hex())
        out.append(f"MISTRAL_MODEL=mistral-large-{rng.randrange(2400, 2500)}")
        out.append(f"assembly_checksum = \"{rng.randbytes(16).hex()}\"")
        out.append(f"cursor_position = {rng.randrange(10**6)}")
        out.append(f"wandb_run_commit: {rng.randbytes(20).hex()}")
        out.append(f"VAULT_ADDR=https://vault.internal:8200  # token in {rng.randbytes(4).hex()}.hcl")
        out.append(f"docker pull ghcr.io/acme/agent@sha256:{rng.randbytes(32).hex()}")
        out.append(f"dd_trace_id: {rng.randbytes(16).hex()}")
        out.append(f"sentry_release = \"{rng.randbytes(32).hex()}\"")
        out.append(f"twilio_message_sid: SM{rng.randbytes(16).hex()}")
        out.append(f"stripe_charge_id: ch_{rng.randbytes(12).hex()}")
        out.append(f"JIRA_PROJECT_KEY=AGENTPLATFORM{rng.randrange(10**10, 10**11)}")
    png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(3000)
    out.append(f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    cert = pem_private_key(rng, "").replace("PRIVATE KEY", "CERTIFICATE")
    out.append(cert)
    out.append(f"  ca.crt: {base64.b64encode(cert.encode()).decode()}")
    out.append(cert.replace("CERTIFICATE", "PUBLIC KEY"))
    out.append("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----")
    return out


def structured_negatives(rng: random.Random) -> dict[str, str]:
    """Files for the binding pass (`scanner.bindings`) that must produce no finding: client calls
    with made-up keys, references and placeholders, callees the file does not import from a
    provider; Bearer headers holding references, templates and redactions."""
    local = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))
    code = (
        "import os\nimport hashlib\nfrom openai import OpenAI, AzureOpenAI\nfrom anthropic import Anthropic\n"
        "from mistralai import Mistral\nimport cohere\nfrom myapp.cache import Cache\n\n"
        "client = OpenAI(\n    api_key=\"My API Key\",\n)\n"
        "claude = Anthropic(api_key=\"my-anthropic-api-key\")\n"
        "m = Mistral(\n    api_key=os.environ[\"MISTRAL_API_KEY\"],\n)\n"
        "m2 = Mistral(\n    api_key=\"your_mistral_api_key_here\",\n)\n"
        "co = cohere.ClientV2(\n    api_key=\"<your-cohere-key>\",\n)\n"
        "az = AzureOpenAI(\n    api_key=\"${AZURE_OPENAI_API_KEY}\",\n    azure_endpoint=\"https://x.openai.azure.com\",\n)\n"
        f"cache = Cache(\n    key=\"{local}\",\n)\n"
        f"digest = hashlib.sha256(key=\"{hashlib.sha256(rng.randbytes(8)).hexdigest()[:32]}\")\n"
        "def make(api_key=\"" + local[::-1] + "\"):\n    return Mistral(api_key=api_key)\n"
    )
    ts = ('import { Mistral } from "@mistralai/mistralai";\nimport OpenAI from "openai";\n\n'
          "const m = new Mistral({\n  apiKey: process.env.MISTRAL_API_KEY,\n});\n"
          'const o = new OpenAI({\n  apiKey: "sk-...",\n});\n')
    headers = ["Bearer {{token}}", "Bearer ${API_TOKEN}", "Bearer <token>", "Bearer YOUR_API_KEY",
               "Bearer sk-xxxxxxxxxxxxxxxxxxxxxxxx", "Bearer $TOKEN", "Bearer {{ .Values.token }}",
               "Bearer REDACTED", "Bearer <REDACTED>", "Bearer ********"]
    collection = {"info": {"name": "api"}, "item": [
        {"name": f"r{i}", "request": {"method": "GET", "header": [{"key": "Authorization", "value": h}],
                                     "url": {"raw": "https://api.mistral.ai/v1/models"}}}
        for i, h in enumerate(headers)]}
    yaml_text = "".join(f"- url: https://api.cohere.com/v2/chat\n  headers:\n    Authorization: \"{h}\"\n"
                        for h in headers)
    cassette = ("interactions:\n- request:\n    body: null\n    headers:\n      authorization:\n      - DUMMY\n"
                "    method: GET\n    uri: https://api.openai.com/v1/models\n")
    return {"clients.py": code, "client.ts": ts, "api.postman_collection.json": json.dumps(collection, indent=2),
            "http_headers.yaml": yaml_text, "cassette.yaml": cassette,
            "hooks.json": json.dumps({"hooks": [{"url": "https://hooks.example.net", "headers": {"Authorization": h}}
                                                for h in headers]})}
