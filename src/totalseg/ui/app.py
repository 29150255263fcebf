"""The Streamlit script ``totalseg ui`` runs: read the configuration, draw the app."""

import os
import sys

from totalseg.ui.config import AppConfig
from totalseg.ui.main import run_app

run_app(AppConfig.from_args(sys.argv[1:], os.environ))
