"""The JSON API end to end, on SQLite and on PostgreSQL: import, list, review, appeal, decide."""

from __future__ import annotations

from tests.web.conftest import conversation, jsonl, wait_for_job


def import_file(actor, name: str, content: bytes) -> dict:
    response = actor.post("/api/v1/imports", files=[("files", (name, content, "application/octet-stream"))])
    assert response.status_code == 200, response.text
    return wait_for_job(actor, response.json()["id"])


def test_import_check_list_and_reimport_updates(people):
    rev = people["rev"]
    job = import_file(rev, "batch.jsonl", jsonl(conversation("c1", "1024"), conversation("c2", "2048"),
                                                 {"id": "broken", "turns": "nope"}))
    assert (job["read"], job["checked"], job["failed"]) == (3, 2, 1)
    assert job["errors"][0]["path"] == "batch.jsonl" and job["errors"][0]["line"] == 3
    listing = rev.get("/api/v1/conversations").json()
    assert listing["total"] == 2
    # Same ids again, different text: updated in place, never duplicated.
    import_file(rev, "again.jsonl", jsonl(conversation("c1", "1024", agent_text="你好")))
    listing = rev.get("/api/v1/conversations", params={"per_page": 10}).json()
    assert listing["total"] == 2
    c1 = next(i for i in listing["items"] if i["external_id"] == "c1")
    detail = rev.get(f"/api/v1/conversations/{c1['id']}").json()
    assert detail["turns"][1]["text"] == "你好"
    assert any(f["rule"] == "FBD010" for f in detail["findings"])


def test_review_then_appeal_then_decision_recomputes_scores_and_audits(people):
    rev, agent, boss = people["rev"], people["agent1"], people["super"]
    import_file(rev, "one.jsonl", jsonl(conversation("c1", "1024", agent_text="你好,有什么事")))
    cid = rev.get("/api/v1/conversations").json()["items"][0]["id"]
    detail = rev.get(f"/api/v1/conversations/{cid}").json()
    auto = detail["auto_score"]
    ni = next(f for f in detail["findings"] if f["rule"] == "FBD010")
    other = next(f for f in detail["findings"] if f["rule"] != "FBD010")
    assert rev.post(f"/api/v1/findings/{other['id']}/verdict", json={"confirmed": False, "comment": "误报"}).status_code == 200
    assert rev.post(f"/api/v1/conversations/{cid}/findings", json={"rule": "FBD006", "turn": 3, "comment": "推诿"}).status_code == 200
    reviewed = rev.post(f"/api/v1/conversations/{cid}/review")
    assert reviewed.status_code == 200 and reviewed.json()["review_status"] == "reviewed"
    after_review = rev.get(f"/api/v1/conversations/{cid}").json()
    assert after_review["auto_score"] == auto and after_review["final_score"] is not None

    appeal = agent.post(f"/api/v1/findings/{ni['id']}/appeal", json={"reason": "客户先用的你"})
    assert appeal.status_code == 200, appeal.text
    assert agent.get(f"/api/v1/conversations/{cid}").json()["review_status"] == "appealed"
    decided = boss.post(f"/api/v1/appeals/{appeal.json()['id']}/decision", json={"accept": True, "decision": "采纳"})
    assert decided.status_code == 200 and decided.json()["status"] == "accepted"
    final = agent.get(f"/api/v1/conversations/{cid}").json()
    assert final["review_status"] == "closed"
    assert final["final_score"] > after_review["final_score"]  # the withdrawn finding no longer deducts
    trail = boss.get("/api/v1/audit", params={"entity": "appeal"}).json()
    actions = [e["action"] for e in trail]
    assert "appeal.create" in actions and "appeal.decide" in actions
    page = boss.get("/audit", params={"entity": "appeal"}).text
    assert "appeal.decide" in page and "&#34;accepted&#34;" in page  # before/after shown, escaped
    decision = next(e for e in trail if e["action"] == "appeal.decide")
    assert decision["before"]["appeal"] == "pending" and decision["after"]["appeal"] == "accepted"
    assert decision["user_id"] == boss.user["id"]


def test_agents_see_only_their_own_and_leads_their_team(people):
    rev = people["rev"]
    import_file(rev, "two.jsonl", jsonl(conversation("mine", "1024"), conversation("theirs", "2048"),
                                         conversation("nobody", None)))
    ids = {i["external_id"]: i["id"] for i in rev.get("/api/v1/conversations").json()["items"]}
    assert set(ids) == {"mine", "theirs", "nobody"}
    agent = people["agent1"]
    assert [i["external_id"] for i in agent.get("/api/v1/conversations").json()["items"]] == ["mine"]
    assert agent.get(f"/api/v1/conversations/{ids['theirs']}").status_code == 404
    assert [i["external_id"] for i in people["lead2"].get("/api/v1/conversations").json()["items"]] == ["theirs"]
    assert people["lead1"].get(f"/api/v1/conversations/{ids['theirs']}").status_code == 404



def test_appeal_window_is_configurable(people):
    rev, agent, admin = people["rev"], people["agent1"], people["admin"]
    import_file(rev, "w.jsonl", jsonl(conversation("late", "1024", agent_text="你好")))
    cid = rev.get("/api/v1/conversations").json()["items"][0]["id"]
    finding = rev.get(f"/api/v1/conversations/{cid}").json()["findings"][0]["id"]
    assert agent.post(f"/api/v1/findings/{finding}/appeal", json={"reason": "未复核"}).status_code == 400
    rev.post(f"/api/v1/conversations/{cid}/review")
    put = admin.client.put("/api/v1/settings/appeal_window_days", json={"value": 0},
                           headers={"X-CSRF-Token": admin.csrf})
    assert put.status_code == 200
    late = agent.post(f"/api/v1/findings/{finding}/appeal", json={"reason": "太晚了"})
    assert late.status_code == 400 and "申诉期限" in late.json()["detail"]
    wrong = admin.client.put("/api/v1/settings/appeal_window_days", json={"value": True},
                             headers={"X-CSRF-Token": admin.csrf})
    assert wrong.status_code == 400


def test_a_recording_keeps_its_voice_and_its_page_draws_the_timeline(people):
    """The bundled call recording imported like any file: the turns keep their voice
    measurements, the conversation its audio, and the page draws the report's timeline with its
    markers linking to the page's own findings."""
    from pathlib import Path

    rev = people["rev"]
    recording = Path(__file__).resolve().parents[2] / "examples" / "call-recording.mp3"
    job = import_file(rev, "call-recording.mp3", recording.read_bytes())
    assert (job["checked"], job["failed"]) == (1, 0), job
    cid = rev.get("/api/v1/conversations").json()["items"][0]["id"]
    detail = rev.get(f"/api/v1/conversations/{cid}").json()
    assert detail["audio"]["transcriber"] is None and len(detail["audio"]["holds"]) == 1
    assert all("voice" in turn and turn["text"] == "" for turn in detail["turns"])
    assert {"OPN003", "VOC001", "VOC003", "HLD003"} <= {f["rule"] for f in detail["findings"]}
    page = rev.get(f"/conversations/{cid}").text
    assert '<svg class="timeline"' in page and "语音指标" in page and "未做语音识别" in page
    by_turn: dict[int, list[int]] = {}
    for finding in detail["findings"]:
        by_turn.setdefault(finding["turn"], []).append(finding["id"])
    for turn, ids in by_turn.items():  # one marker per turn, linking to one of its findings
        assert turn is None or any(f'href="#finding-{i}"' in page for i in ids), turn
    assert "(无文字 · 说话" in page

    import_file(rev, "chat.jsonl", jsonl(conversation("c1", "1024")))
    chat = next(i for i in rev.get("/api/v1/conversations").json()["items"] if i["external_id"] == "c1")
    assert rev.get(f"/api/v1/conversations/{chat['id']}").json()["audio"] is None
    assert 'class="timeline"' not in rev.get(f"/conversations/{chat['id']}").text


def test_recognized_speech_shows_what_was_heard_and_its_doubts_reach_review(people):
    """A call transcript from an ASR with its confidence: the page marks the unrecognized greeting
    (未识别) and the doubtful turn, and the greeting finding that rests on them is 待复核."""
    rev = people["rev"]
    heard = {"recognizer": "funasr", "confidence": 0.92}
    call = {"id": "asr-1", "channel": "phone", "agent_id": "1024", "turns": [
        {"role": "agent", "text": "", "start": 0.0, "end": 2.0, "asr": {"recognizer": "funasr"}},
        {"role": "customer", "text": "我的快递三天了还没到", "start": 2.5, "end": 5.0, "asr": heard},
        {"role": "agent", "text": "您的快递我查一下", "start": 5.5, "end": 8.0, "asr": {"recognizer": "funasr", "confidence": 0.31}},
        {"role": "agent", "text": "请问还有其他可以帮您的吗?感谢您的来电,再见", "start": 9.0, "end": 12.0, "asr": heard},
    ]}
    import_file(rev, "asr.jsonl", jsonl(call))
    cid = next(i for i in rev.get("/api/v1/conversations").json()["items"] if i["external_id"] == "asr-1")["id"]
    detail = rev.get(f"/api/v1/conversations/{cid}").json()
    assert detail["turns"][2]["asr"] == {"recognizer": "funasr", "confidence": 0.31}
    (greeting,) = [f for f in detail["findings"] if f["rule"] == "OPN001"]
    assert greeting["needs_review"] and "未识别" in greeting["message"]
    page = rev.get(f"/conversations/{cid}").text
    assert "(未识别" in page and "识别存疑 0.31" in page and "识别 0.92" in page
