"""A chain of coffee shops with months of dialogues, written straight into the
database for bench.dashboard: one organisation, points in three time zones, a
recorder per register, and `dialogues` dialogues spread over the last `days` local
days during opening hours (busier at the morning, lunch and evening peaks), each
with a transcript (Russian counter talk, its segments with word timings, spoken
amounts kept), a current analysis (attempted or not, quality, the coffee shop's
categories, the customer's reaction, evidence quoted from the transcript), ~10 %
with an earlier run kept as history and ~2 % reviewed. The last `chunk_days` days
have every minute's audio chunk row of every recorder (the files themselves are not
written; bench.dashboard writes the few it plays).

Rows are made in Python from a seeded generator and sent with COPY in batches, so
100,000 dialogues take well under a minute; nothing goes through the ORM.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from salescontrol.db.engine import async_url

CATEGORIES = ("coffee_size", "dessert", "pastry", "syrup", "combo", "add_ons", "takeaway", "other")

POINTS = (
    ("Центр", "Asia/Almaty"),
    ("Абая", "Asia/Almaty"),
    ("Достык", "Asia/Almaty"),
    ("Мега", "Asia/Almaty"),
    ("Аэропорт", "Asia/Almaty"),
    ("Актобе, Керуен", "Asia/Aqtobe"),
    ("Актобе, Молодёжный", "Asia/Aqtobe"),
    ("Актобе, вокзал", "Asia/Aqtobe"),
    ("Уральск, Евразия", "Asia/Oral"),
    ("Уральск, Дом быта", "Asia/Oral"),
)
REGISTERS_PER_POINT = 3
OPENS, CLOSES = time(8), time(22)
# Customers per hour of the day, relative (8:00 … 21:00).
HOUR_WEIGHTS = (6, 9, 7, 5, 8, 9, 7, 5, 5, 7, 8, 6, 4, 2)

MODEL = "ministral-3:14b-instruct-2512-q8_0"
PROMPT_VERSIONS = ("p-3f1a9c20", "p-8b27d4e1")
BATCH = 10_000

DRINKS = ("капучино", "латте", "американо", "эспрессо", "раф", "флэт уайт", "мокко", "какао",
          "чай", "горячий шоколад", "матча латте", "лавандовый раф")  # fmt: skip
DRINK_WEIGHTS = (30, 25, 15, 6, 8, 5, 4, 3, 6, 2, 1, 0.3)
DESSERTS = ("чизкейк", "тирамису", "медовик", "маффин", "брауни", "наполеон", "эклер")
PASTRIES = ("круассан", "сэндвич", "булочку с корицей", "пирожок с вишней", "киш с лососем")
SYRUPS = ("карамельный", "ванильный", "ореховый", "кокосовый", "имбирный", "фисташковый")
MILKS = ("овсяном", "миндальном", "кокосовом", "безлактозном")
NAMES = ("Айгерим", "Данияр", "Алия", "Ерлан", "Мадина", "Руслан", "Жанна", "Тимур", "Асель",
         "Нурлан", "Дана", "Арман", "Камила", "Бекзат", "Ольга", "Сергей")  # fmt: skip

GREETINGS = ("Здравствуйте! Что для вас?", "Добрый день, что будете заказывать?",
             "Доброе утро! Вам как обычно?", "Здравствуйте, слушаю вас.",
             "Привет! Что сегодня берём?")  # fmt: skip
ORDERS = ("Мне {drink}, пожалуйста.", "Можно {drink}?", "Давайте {drink} и воду без газа.",
          "Один {drink}, пожалуйста, и побыстрее, если можно.", "Мне как обычно, {drink}.",
          "Два {drink}, пожалуйста.")  # fmt: skip
SIZES = ("Какой размер, маленький или средний?", "Объём какой?", "Вам стандартный?")
SIZE_ANSWERS = ("Средний.", "Маленький, пожалуйста.", "Стандартный.", "Давайте средний.")
OFFERS = {
    "coffee_size": ("Может, возьмёте большой {drink}? Всего на двести тенге дороже.",
                    "Большой или средний?"),
    "dessert": ("К кофе возьмёте {dessert}? Сегодня свежий.", "Попробуйте наш {dessert}."),
    "pastry": ("Хотите {pastry} к кофе? Только что из печи.", "Возьмёте {pastry}?"),
    "syrup": ("Добавить {syrup} сироп?", "Сироп добавим, {syrup}?"),
    "combo": ("У нас комбо: кофе и {pastry} со скидкой, возьмёте?",
              "Утреннее комбо хотите? Кофе и {pastry}."),
    "add_ons": ("Может, на {milk} молоке или двойной шот?", "Зефир или сливки добавить?"),
    "takeaway": ("Вам с собой? Подставку и пакет дать?", "Крышку и подставку дать?"),
    "other": ("Карту лояльности оформим? Каждый шестой кофе бесплатно.",
              "Хотите зерно домой? Новая обжарка из Эфиопии."),
}  # fmt: skip
REACTIONS = {
    "accepted": ("Да, давайте.", "О, давайте, возьму.", "Хорошо, добавьте."),
    "rejected": ("Нет, спасибо.", "Не надо, спасибо.", "Нет, только кофе."),
    "unclear": ("Ну, не знаю... посмотрим.", "Может быть, в следующий раз.", "Хм, а сколько?"),
    "none": ("", ""),
}
PRICES = ("С вас {amount} тенге.", "Итого {amount} тенге.", "{amount} тенге, пожалуйста.")
PAYMENTS = ("Картой.", "Можно по QR?", "Наличными, вот.", "Каспи перевод можно?")
PAYMENT_ANSWERS = ("Приложите карту, пожалуйста.", "Да, вот QR.", "Сдача {change} тенге.",
                   "Можно, номер на кассе.")  # fmt: skip
SMALL_TALK = ("Как вас записать? {name}.", "Сегодня жарко, хочется чего-то холодного.",
              "Терминал что-то долго думает.", "А у вас есть розетка, ноутбук зарядить?",
              "Вайфай какой? Пароль на чеке.", "Можно без сахара?",
              "Погорячее сделайте, пожалуйста.",
              "Подождите минутку, кофемашина промывается.", "Сдачи с десяти тысяч не будет?",
              "Заказ для {name} готов!", "Вчера у вас был очень вкусный эклер.",
              "Мы закрываемся через полчаса.", "Можно салфетки?",
              "А бамбл у вас делают?", "Пакетик сахара возьмите на стойке.")  # fmt: skip
GOODBYES = ("Спасибо, хорошего дня!", "Приходите ещё!", "Ваш заказ будет готов через пару минут.",
            "Спасибо, всего доброго.")  # fmt: skip
SHORT = ("Добрый день.", "Спасибо.", "Минутку.", "Да.", "Сейчас.")
REVIEW_REASONS = ("Попытка была, модель не заметила.", "Это не допродажа, а вопрос о размере.",
                  "Реакция покупателя указана неверно.", "Категория не та.",
                  "Диалог обрезан, оценка сомнительная.")  # fmt: skip
REACTION_RU = {"accepted": "согласился", "rejected": "отказался", "unclear": "не ответил ясно"}


@dataclass
class Fill:
    """What was written, and how long each part took."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Device:
    id: uuid.UUID
    register_id: uuid.UUID
    point_id: uuid.UUID
    zone: ZoneInfo
    weight: float
    silent_since: datetime | None


class _Rng(random.Random):
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.getrandbits(128), version=4)


def _words(text: str, start: float, end: float, rng: _Rng) -> list[str]:
    """The word entries of a segment as JSON text (made as strings: a million
    dicts through json.dumps would dominate the fill)."""
    words = text.split()
    step = (end - start) / len(words)
    out = []
    for i, word in enumerate(words):
        w0 = start + i * step
        out.append(
            f'{{"start_s": {w0:.2f}, "end_s": {w0 + step * 0.9:.2f}, '
            f'"word": {json.dumps(word, ensure_ascii=False)}, '
            f'"probability": {rng.uniform(0.55, 0.99):.2f}}}'
        )
    return out


def _segments(lines: Sequence[str], duration: float, rng: _Rng) -> str:
    """Segments laid out over the dialogue's length, in proportion to their words."""
    weights = [len(line.split()) + 1.5 for line in lines]
    scale = duration / sum(weights)
    at = rng.uniform(0.1, 0.6)
    parts = []
    for line, weight in zip(lines, weights, strict=True):
        end = min(duration, at + (weight - 1.5) * scale * 0.85 + 0.3)
        parts.append(
            f'{{"start_s": {at:.2f}, "end_s": {end:.2f}, '
            f'"text": {json.dumps(line, ensure_ascii=False)}, '
            f'"words": [{", ".join(_words(line, at, end, rng))}]}}'
        )
        at = min(duration, at + weight * scale)
    return f"[{', '.join(parts)}]"


@dataclass
class _Judgement:
    status: str
    attempted: str | None = None
    quality: int | None = None
    categories: list[str] = field(default_factory=list)
    reaction: str | None = None
    offer: str | None = None


def _judgement(rng: _Rng) -> _Judgement:
    attempted = rng.choices(("yes", "no", "uncertain"), (50, 40, 10))[0]
    if attempted == "no":
        return _Judgement("done", "no", 0, [], "none")
    if attempted == "uncertain":
        cats = [rng.choice(CATEGORIES)] if rng.random() < 0.6 else []
        return _Judgement(
            "done", "uncertain", rng.choice((0, 1)), cats, rng.choice(("unclear", "none"))
        )
    cats = rng.sample(CATEGORIES, 2 if rng.random() < 0.2 else 1)
    quality = rng.choices((1, 2, 3), (25, 45, 30))[0]
    reaction = rng.choices(("accepted", "rejected", "unclear"), (45, 40, 15))[0]
    return _Judgement("done", "yes", quality, cats, reaction)


def _fill_in(template: str, rng: _Rng, drink: str) -> str:
    return template.format(
        drink=drink,
        dessert=rng.choice(DESSERTS),
        pastry=rng.choice(PASTRIES),
        syrup=rng.choice(SYRUPS),
        milk=rng.choice(MILKS),
        name=rng.choice(NAMES),
        amount=f"{rng.randrange(9, 60) * 100:,}".replace(",", " "),
        change=rng.randrange(1, 90) * 100,
    )


def _conversation(judgement: _Judgement, rng: _Rng) -> list[str]:
    """The lines of the dialogue; the offer (if any) is kept in `judgement.offer`."""
    if judgement.status == "skipped":
        return rng.sample(SHORT, rng.randint(1, 2))
    drink = rng.choices(DRINKS, DRINK_WEIGHTS)[0]
    lines = [rng.choice(GREETINGS), _fill_in(rng.choice(ORDERS), rng, drink)]
    if rng.random() < 0.5:
        lines += [rng.choice(SIZES), rng.choice(SIZE_ANSWERS)]
    if judgement.attempted in ("yes", "uncertain") and judgement.categories:
        offer = _fill_in(rng.choice(OFFERS[judgement.categories[0]]), rng, drink)
        judgement.offer = offer
        lines.append(offer)
        answer = rng.choice(REACTIONS[judgement.reaction or "none"])
        if answer:
            lines.append(answer)
    lines += [
        _fill_in(t, rng, drink)
        for t in rng.sample(SMALL_TALK, rng.choices((0, 1, 2, 3), (3, 4, 2, 1))[0])
    ]
    lines += [_fill_in(rng.choice(PRICES), rng, drink), rng.choice(PAYMENTS)]
    lines += [_fill_in(rng.choice(PAYMENT_ANSWERS), rng, drink), rng.choice(GOODBYES)]
    return lines


def _analysis_row(
    dialogue_id: uuid.UUID, run: int, j: _Judgement, current: bool, at: datetime, rng: _Rng
) -> tuple[Any, ...]:
    if j.status == "skipped":
        return (dialogue_id, run, "skipped", "слов 2, меньше 4", None, None, [], None, None,
                "[]", None, None, MODEL, PROMPT_VERSIONS[run - 1], current, at)  # fmt: skip
    if j.attempted == "no" or not j.categories:
        summary = "Продавец принял заказ и не предложил ничего сверх него."
    else:
        reaction = REACTION_RU.get(j.reaction or "", "промолчал")
        summary = f"Продавец предложил {j.categories[0]}; покупатель {reaction}."
    evidence = [j.offer] if j.offer else []
    return (
        dialogue_id, run, "done", None, j.attempted, j.quality, j.categories, j.offer,
        j.reaction, json.dumps(evidence, ensure_ascii=False), summary,
        round(rng.uniform(0.5, 0.98), 2), MODEL, PROMPT_VERSIONS[run - 1], current, at,
    )  # fmt: skip


ANALYSIS_COLUMNS = ("dialogue_id", "run", "status", "skip_reason", "attempted", "quality",
                    "categories", "closing_question", "customer_reaction", "evidence", "summary",
                    "confidence", "model", "prompt_version", "current", "created_at")  # fmt: skip
DIALOGUE_COLUMNS = ("id", "device_id", "register_id", "point_id", "started_at", "ended_at",
                    "state", "speech_s", "closed_reason", "closed_at", "created_at")  # fmt: skip
TRANSCRIPT_COLUMNS = ("dialogue_id", "text", "segments", "language", "model", "avg_logprob",
                      "no_speech_prob", "passes", "created_at")  # fmt: skip
REVIEW_COLUMNS = ("dialogue_id", "user_id", "status", "reason", "corrections", "created_at",
                  "resolved_at", "resolved_by")  # fmt: skip


class _Plan:
    """Where and when dialogues happen."""

    def __init__(self, devices: list[_Device], last_day: date, days: int, now: datetime):
        self.devices = devices
        self.cum = list(itertools.accumulate(d.weight for d in devices))
        self.hours = list(itertools.accumulate(HOUR_WEIGHTS))
        self.last_day = last_day
        self.days = days
        self.now = now

    def start(self, rng: _Rng) -> tuple[_Device, datetime]:
        while True:
            device = self.devices[bisect.bisect(self.cum, rng.random() * self.cum[-1])]
            day = self.last_day - timedelta(days=rng.randrange(self.days))
            hour = OPENS.hour + bisect.bisect(self.hours, rng.random() * self.hours[-1])
            local = datetime.combine(day, time(hour), device.zone) + timedelta(
                seconds=rng.uniform(0, 3600)
            )
            at = local.astimezone(UTC)
            ends_by = device.silent_since or self.now - timedelta(minutes=5)
            if at < ends_by:
                return device, at


def _dialogues(
    plan: _Plan, count: int, users: list[uuid.UUID], rng: _Rng
) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """Batches of rows per table."""
    batch: dict[str, list[tuple[Any, ...]]] = {
        k: [] for k in ("dialogues", "transcripts", "analyses", "reviews")
    }
    for n in range(count):
        device, started = plan.start(rng)
        duration = min(300.0, max(8.0, rng.lognormvariate(3.7, 0.5)))
        ended = started + timedelta(seconds=duration)
        closed = ended + timedelta(seconds=12 + rng.uniform(0, 60))
        skipped = rng.random() < 0.04
        judgement = _Judgement("skipped") if skipped else _judgement(rng)
        lines = _conversation(judgement, rng)
        speech = round(rng.uniform(0.8, 1.9) if skipped else duration * rng.uniform(0.45, 0.8), 1)
        did = rng.uuid()
        reason = rng.choices(("silence", "max_length", "gap", "idle"), (92, 3, 3, 2))[0]
        batch["dialogues"].append(
            (
                did,
                device.id,
                device.register_id,
                device.point_id,
                started,
                ended,
                "closed",
                speech,
                reason,
                closed,
                closed,
            )
        )
        batch["transcripts"].append(
            (
                did,
                " ".join(lines),
                _segments(lines, duration, rng),
                "ru",
                "whisper-base-int8",
                round(rng.uniform(-0.6, -0.15), 3),
                round(rng.uniform(0.01, 0.2), 3),
                2 if rng.random() < 0.1 else 1,
                closed + timedelta(seconds=rng.uniform(5, 40)),
            )
        )
        analysed = closed + timedelta(seconds=rng.uniform(20, 90))
        rerun = not skipped and rng.random() < 0.10
        if rerun:
            # The earlier run judged the same talk otherwise.
            earlier = (
                _Judgement("done", "uncertain", 0, judgement.categories, "unclear", judgement.offer)
                if judgement.offer
                else _Judgement("done", "uncertain", 0, [], "none")
            )
            batch["analyses"].append(_analysis_row(did, 1, earlier, False, analysed, rng))
            later = min(plan.now, analysed + timedelta(days=rng.uniform(0.1, 5)))
            batch["analyses"].append(_analysis_row(did, 2, judgement, True, later, rng))
        else:
            batch["analyses"].append(_analysis_row(did, 1, judgement, True, analysed, rng))
        if not skipped and rng.random() < 0.02:
            flagged = min(plan.now, analysed + timedelta(hours=rng.uniform(1, 72)))
            resolved = rng.random() < 0.45
            corrections = {"attempted": rng.choice(("yes", "no"))} if rng.random() < 0.6 else {}
            resolved_at = min(plan.now, flagged + timedelta(hours=rng.uniform(1, 48)))
            batch["reviews"].append(
                (
                    did,
                    rng.choice(users),
                    "resolved" if resolved else "open",
                    rng.choice(REVIEW_REASONS),
                    json.dumps(corrections),
                    flagged,
                    resolved_at if resolved else None,
                    users[0] if resolved else None,
                )
            )
        if (n + 1) % BATCH == 0 or n + 1 == count:
            yield batch
            batch = {k: [] for k in batch}


CHUNKS_SQL = """
INSERT INTO audio_chunks (id, device_id, client_id, started_at, ended_at, duration_s,
    size_bytes, sha256, codec, sample_rate, channels, path, state, attempts, created_at)
SELECT cid, did, gen_random_uuid(), at, at + interval '60 s', 60, 170000 + (random() * 20000)::int,
    md5(cid::text) || md5(did::text), 'opus', 16000, 1,
    did || '/' || to_char(at AT TIME ZONE 'UTC', 'YYYY/MM/DD') || '/' || cid || '.opus',
    'processed', 1, at + interval '61 s'
FROM (
    SELECT gen_random_uuid() AS cid, d.id AS did, minute.at
    FROM devices d
    JOIN registers r ON r.id = d.register_id
    JOIN points p ON p.id = r.point_id
    CROSS JOIN generate_series($1::date, $2::date, interval '1 day') AS day(day)
    CROSS JOIN LATERAL generate_series(
        timezone(p.timezone, day.day + p.opens_at),
        timezone(p.timezone, day.day + p.closes_at) - interval '1 min',
        interval '1 min'
    ) AS minute(at)
    WHERE minute.at + interval '60 s' <= d.last_upload_at
) AS chunk
"""
"""Every minute's chunk of every recorder during opening hours, up to its last
upload (made by the server: two million rows are quicker there than sent)."""


def _health(now: datetime, last_upload: datetime, queue: int, errors: list[str]) -> str:
    return json.dumps({
        "recording": True, "reason": None, "queue": queue,
        "oldest_queued_at": (last_upload.isoformat() if queue else None),
        "last_upload_at": last_upload.isoformat(), "failed": 0, "errors": errors,
        "disk_free_bytes": 11_500_000_000 - queue * 180_000, "spool_bytes": queue * 180_000,
        "version": "0.3.0",
    })  # fmt: skip


async def _copy(conn: asyncpg.Connection, table: str, columns: Sequence[str], rows: Any) -> int:
    result = await conn.copy_records_to_table(table, records=rows, columns=list(columns))
    return int(result.split()[-1])


async def fill(
    url: str,
    *,
    dialogues: int,
    days: int,
    chunk_days: int,
    users: list[uuid.UUID],
    today: date,
    seed: int = 19,
) -> Fill:
    """Write the chain into the migrated, empty database at `url`; `users[0]` is the
    admin who resolves reviews. `today` is the last local day of the data."""
    import time as clock

    rng = _Rng(seed)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(async_url(url).replace("postgresql+asyncpg", "postgresql"))
    try:
        began = clock.perf_counter()
        org = rng.uuid()
        out = Fill()
        await conn.execute(
            "INSERT INTO organisations (id, name) VALUES ($1, 'Кофейни «Бариста»')", org
        )
        devices: list[_Device] = []
        device_rows = []
        for p, (name, zone) in enumerate(POINTS):
            pid = rng.uuid()
            await conn.execute(
                "INSERT INTO points (id, organisation_id, name, timezone, business,"
                " opens_at, closes_at) VALUES ($1, $2, $3, $4, 'coffee_shop', $5, $6)",
                pid, org, name, zone, OPENS, CLOSES,
            )  # fmt: skip
            point_weight = 0.6 + 0.9 * rng.random()
            for r in range(REGISTERS_PER_POINT):
                rid = rng.uuid()
                await conn.execute(
                    "INSERT INTO registers (id, point_id, name) VALUES ($1, $2, $3)",
                    rid, pid, f"Касса {r + 1}",
                )  # fmt: skip
                did = rng.uuid()
                n = len(devices)
                # Two recorders went silent during recording hours: a power cut.
                silent = now - timedelta(hours=3 + n) if n in (4, 17) else None
                devices.append(
                    _Device(
                        did, rid, pid, ZoneInfo(zone), point_weight * (0.5, 0.3, 0.2)[r], silent
                    )
                )
                last = silent or now - timedelta(seconds=rng.uniform(5, 60))
                queue = rng.choice((0, 0, 0, 1, 3)) if silent is None else 14
                errors = ["ffmpeg exited with 1"] if n == 9 else []
                device_rows.append(
                    (
                        did,
                        rid,
                        f"pi-{p + 1:02d}-{r + 1}",
                        rng.getrandbits(64).to_bytes(8).hex(),
                        rng.randbytes(16),
                        rng.randbytes(32),
                        n != 29,
                        now - timedelta(days=days + 5),
                        last,
                        last,
                        _health(now, last, queue, errors),
                    )
                )
        await conn.copy_records_to_table(
            "devices",
            records=device_rows,
            columns=[
                "id",
                "register_id",
                "name",
                "token_id",
                "token_salt",
                "token_hash",
                "enabled",
                "created_at",
                "last_seen_at",
                "last_upload_at",
                "last_health",
            ],
        )
        out.seconds["chain"] = round(clock.perf_counter() - began, 2)

        began = clock.perf_counter()
        plan = _Plan(devices, today, days, now)
        counts = {"dialogues": 0, "transcripts": 0, "analyses": 0, "reviews": 0}
        columns = {"dialogues": DIALOGUE_COLUMNS, "transcripts": TRANSCRIPT_COLUMNS,
                   "analyses": ANALYSIS_COLUMNS, "reviews": REVIEW_COLUMNS}  # fmt: skip
        for batch in _dialogues(plan, dialogues, users, rng):
            for table in ("dialogues", "transcripts", "analyses", "reviews"):
                counts[table] += await _copy(conn, table, columns[table], batch[table])
        out.seconds["dialogues"] = round(clock.perf_counter() - began, 2)

        began = clock.perf_counter()
        first_chunk_day = today - timedelta(days=chunk_days - 1)
        status = await conn.execute(CHUNKS_SQL, first_chunk_day, today)
        counts["audio_chunks"] = int(status.split()[-1])
        out.seconds["audio_chunks"] = round(clock.perf_counter() - began, 2)

        began = clock.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        out.seconds["vacuum_analyze"] = round(clock.perf_counter() - began, 2)
        out.counts = counts
        return out
    finally:
        await conn.close()
