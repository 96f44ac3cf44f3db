from tests.conftest import Api, bearer


async def test_scan_and_list(api: Api) -> None:
    token = await api.setup_admin()
    scan = await api.scan()
    assert scan["status"] == "completed", scan
    items = await api.all_media(token)
    titles = {i["title"] for i in items}
    assert {"Jóga", "Bachelorette", "Circle", "Square", "Bars Clip", "Motion Study", "Matroska Sample"} <= titles
    assert scan["failed"] == 3, scan
    r = await api.client.get("/api/v1/media", params={"q": "bjork"}, headers=bearer(token))
    assert [i["title"] for i in r.json()["data"]] == ["Jóga", "Bachelorette"] or len(r.json()["data"]) == 2
