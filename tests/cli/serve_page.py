"""Drives moo serve's page in headless Chromium: serve_page.py URL PNG DIGIT SCREENSHOT.
Uploads the picture with the page's file input and waits for the digit to be shown."""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

url, png, digit, shot = sys.argv[1:5]
opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,700"):
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
drv = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
try:
    drv.get(url)
    drv.find_element(By.ID, "file").send_keys(png)
    WebDriverWait(drv, 30).until(lambda d: d.find_element(By.ID, "prediction").text.strip()
                                 or "error" in d.find_element(By.ID, "result").text)
    shown = drv.find_element(By.ID, "prediction").text.strip()
    drv.save_screenshot(shot)
    print("page shows %r (wanted %s); status %s; screenshot %s"
          % (shown, digit, drv.find_element(By.ID, "status").text, shot))
    sys.exit(0 if shown == digit else 1)
finally:
    drv.quit()
