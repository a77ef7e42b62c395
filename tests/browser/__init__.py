"""Browser tests: a real JupyterLab driven through headless Chromium by Playwright."""
