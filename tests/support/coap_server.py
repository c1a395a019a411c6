#!/usr/bin/env python3
"""A real CoAP server for Benchtop's tests (aiocoap), on 127.0.0.1 only.

Resources:
  /temperature  observable, text/plain number that changes every --period s (NON notifications, Max-Age --max-age)
  /humidity     observable, application/json {"value": ..., "unit": "%RH"}
  /senml        application/senml+cbor pack with two records
  /large        --large-bytes of text, read block-wise
  /chunked      observable, 300 bytes that change every second, notified block-wise (block 0 of 64 bytes in the
                notification, the rest by GET; RFC 7959 §2.6), with an ETag per version
  /config       GET the stored body; PUT replaces it (2.04), POST appends to it (2.01)
  /.well-known/core

Prints "ready" when it listens, and "observers PATH N" whenever the number of observers of a resource changes,
so a test can see registrations and deregistrations from the server's side. Stops when stdin closes.
"""

import argparse
import asyncio
import json
import sys

import aiocoap
import aiocoap.resource as resource
import cbor2


def say(line):
    print(line, flush=True)


class Ticking(resource.ObservableResource):
    """An observable value that changes every period."""

    def __init__(self, path, start, period, max_age, render_value):
        super().__init__()
        self.path = path
        self.value = start
        self.period = period
        self.max_age = max_age
        self.render_value = render_value
        self.count = 0

    async def tick(self):
        while True:
            await asyncio.sleep(self.period)
            self.count += 1
            self.value = round(self.value + 0.1, 3)
            self.updated_state()

    def update_observation_count(self, count):
        say(f"observers {self.path} {count}")

    async def render_get(self, request):
        payload, content_format = self.render_value(self.value)
        message = aiocoap.Message(payload=payload, content_format=content_format)
        message.opt.max_age = self.max_age
        # Sensors send notifications non-confirmable; the registration's answer still rides on the ACK.
        message.mtype = aiocoap.NON
        return message


class Chunked(Ticking):
    """Notifications carry only the first block of the body; the client GETs the rest."""

    async def needs_blockwise_assembly(self, request):
        return False

    async def render_get(self, request):
        body = (f"reading {self.value:.1f}; " * 30).encode()[:300]
        block = request.opt.block2
        number, size_exponent = (block.block_number, block.size_exponent) if block else (0, 2)
        whole = aiocoap.Message(code=aiocoap.CONTENT, payload=body, content_format=0)
        message = whole._extract_block(number, size_exponent, 1024)
        message.opt.etag = f"{self.value:.1f}".encode()
        message.opt.max_age = self.max_age
        if block is None:
            message.mtype = aiocoap.NON
        return message


class Large(resource.Resource):
    def __init__(self, size):
        super().__init__()
        line = b"0123456789abcdefghijklmnopqrstuvwxyz\n"
        self.body = (line * (size // len(line) + 1))[:size]

    async def render_get(self, request):
        return aiocoap.Message(payload=self.body, content_format=0)


class Senml(resource.Resource):
    async def render_get(self, request):
        pack = [{-2: "dev1/", 0: "temp", 1: "Cel", 2: 21.5}, {0: "hum", 1: "%RH", 2: 40}]
        return aiocoap.Message(payload=cbor2.dumps(pack), content_format=112)


class Config(resource.Resource):
    def __init__(self):
        super().__init__()
        self.body = b"interval=60"

    async def render_get(self, request):
        return aiocoap.Message(payload=self.body, content_format=0)

    async def render_put(self, request):
        self.body = request.payload
        say(f"put /config {len(request.payload)}")
        return aiocoap.Message(code=aiocoap.CHANGED)

    async def render_post(self, request):
        self.body = self.body + request.payload
        say(f"post /config {len(request.payload)}")
        return aiocoap.Message(code=aiocoap.CREATED)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--start", type=float, default=20.0)
    parser.add_argument("--period", type=float, default=0.2)
    parser.add_argument("--max-age", type=int, default=2)
    parser.add_argument("--large-bytes", type=int, default=3000)
    args = parser.parse_args()

    site = resource.Site()
    site.add_resource([".well-known", "core"], resource.WKCResource(site.get_resources_as_linkheader))
    temperature = Ticking(
        "/temperature", args.start, args.period, args.max_age, lambda v: (f"{v:.1f}".encode(), 0)
    )
    temperature.rt = "temperature-c"
    humidity = Ticking(
        "/humidity", 40.0, args.period, args.max_age,
        lambda v: (json.dumps({"value": v, "unit": "%RH"}).encode(), 50),
    )
    site.add_resource(["temperature"], temperature)
    site.add_resource(["humidity"], humidity)
    chunked = Chunked("/chunked", 0.0, 1.0, args.max_age + 1, None)
    site.add_resource(["chunked"], chunked)
    site.add_resource(["senml"], Senml())
    site.add_resource(["large"], Large(args.large_bytes))
    site.add_resource(["config"], Config())

    await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", args.port))
    tasks = [asyncio.create_task(r.tick()) for r in (temperature, humidity, chunked)]
    say("ready")
    # Runs until the test closes stdin (or kills the process).
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
