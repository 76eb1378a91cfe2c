"""The Python client from the tiling task's documentation (seeds/002), run against a live server.

The client's code (between the "seed client" markers) is the documentation's, unchanged but for
`host`, `username` and `password`. Before it: an upload of the raster and a first task that creates the
catalog the client writes to (the client uses createNewService = False). After it: polling the
progress until the task ends. Exit 0 only if the task Completed with "Tiles created" > 0.

Environment: TILE_HOST (e.g. http://127.0.0.1:8080/sp), TILE_USER, TILE_PASSWORD, TILE_RASTER (uploaded as
landsat_test_image.tif), TILE_FIRST_RASTER (another raster, for the task that creates the catalog).
"""
import json
import os
import sys
import time

import requests


def prepare():
    base = os.environ["TILE_HOST"]
    s = requests.Session()
    s.post(f"{base}/account/login/", json={"username": os.environ["TILE_USER"], "password": os.environ["TILE_PASSWORD"]})
    for name, path in (("landsat_test_image.tif", os.environ["TILE_RASTER"]), ("first.tif", os.environ["TILE_FIRST_RASTER"])):
        with open(path, "rb") as f:
            s.post(f"{base}/upload", files={"file": (name, f)}).raise_for_status()
    create = {
        "target": {"type": "tileFeatureLayerTaskDataStorage", "serviceName": f"{os.environ['TILE_USER']}.landsat_images",
                   "createNewService": True,
                   "attributesConfiguration": {"attributes": [{"attributeName": "name", "type": "String"},
                                                              {"attributeName": "dateofimage", "type": "DateTime"}]}},
        "files": ["first.tif"],
    }
    task = s.post(f"{base}/scheduler/tasks", params={"type": "tiling"}, json=create).json()
    wait(s, f"{base}/scheduler/tasks/{task['taskId']}/progress")


def wait(session, url):
    for _ in range(600):
        status = session.get(url).json()
        if status["status"] in ("Completed", "Failed", "Canceled", "Timeout"):
            return status
        time.sleep(0.2)
    raise SystemExit("the task did not finish")


prepare()

# ---- seed client (unchanged but for host, username and password) ----
import requests
import json

def login(username, password): # производит авторизацию и возвращает объект сессии
    authUrl = f'{host}/account/login/'
    login_data = {
        "username": username,
        "password": password
        }
    headers = {'Content-type': 'application/json'}

    # создание объекта сессии
    s = requests.Session()

    # авторизация и получение JWT-токена
    s.post(url=authUrl, data=json.dumps(login_data), headers=headers)

    return s

host = os.environ["TILE_HOST"]
username = os.environ["TILE_USER"]
password = os.environ["TILE_PASSWORD"]

# авторизация
session = login(username, password)

# определяем параметры для задачи копирования
files = ["landsat_test_image.tif"]
attributes = {
    "name": "Снимок Landsat-8",
    "dateofimage": "2023-12-08T12:00:00+00:00"
}
polygonize = False

serviceName = f"{username}.landsat_images"

target = {
    "type": "tileFeatureLayerTaskDataStorage",
    "serviceName": serviceName,
    "createNewService": False
}

useCog = True

tilingProps = {
    "files": files,
    "attributes": attributes,
    "polygonize": polygonize,
    "target": target,
    "useCog": useCog
}

# выполнение запроса
tilingTaskUrl = f'{host}/scheduler/tasks'
params={'type': 'tiling'}
headers = {'Content-type': 'application/json'}
taskProps = session.post(url=tilingTaskUrl, params=params, data=json.dumps(tilingProps), headers=headers).json()
taskProps

taskId = taskProps['taskId']
checkTaskUrl = f'{host}/scheduler/tasks/{taskId}/progress'

taskStatus = session.get(url = checkTaskUrl, headers=headers).json()
taskStatus
# ---- end of seed client ----

taskStatus = wait(session, checkTaskUrl)
print(json.dumps(taskStatus, ensure_ascii=False, indent=2))
details = taskStatus["taskResult"]["stepResults"][0]["resultDetails"]
ok = taskStatus["status"] == "Completed" and details["Tiles created"] > 0 and taskProps["status"] == "Scheduled"
sys.exit(0 if ok else 1)
