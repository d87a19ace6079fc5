#!/usr/bin/env bash
# Copies the console's pinned front-end packages (package-lock.json) into
# web/vendor, where the binary embeds them: `make console-assets`.
# TestVendoredFilesAreTheLockfiles checks that the copies are current.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --ignore-scripts --no-audit --no-fund
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css web/vendor/
cp node_modules/uplot/LICENSE web/vendor/uPlot.LICENSE
echo "web/vendor: uPlot $(node -p 'require("./node_modules/uplot/package.json").version')"
