"""newsrag: cited, offline question answering over news articles.

Importing the package forces offline mode and switches telemetry off before any
Hugging Face, Chroma, Gradio or NNCF module is imported: these libraries read the
variables at import time, so later is too late. NNCF (the OpenVINO export's quantizer)
sends usage statistics unless NNCF_CI is set; OpenVINO's runtime sends none.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["NNCF_CI"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

__version__ = "0.1.0"
