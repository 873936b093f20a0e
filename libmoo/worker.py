# moo's predictor worker (moo-serve(1)): runs as  python -c THIS ENTRY_POINT MODEL_DIR
# in the model's code folder. It imports ENTRY_POINT, calls load(MODEL_DIR) once, then
# answers requests read from stdin, one at a time, until stdin closes.
#
# Frames, both ways: a 4-byte big-endian length, then that many bytes.
#   moo -> worker   a message: header frame (JSON), body frame (raw bytes)
#                   header {"path", "content_type", "body_file"?, "batch"?}
#                   {"batch": N} is followed by N messages, answered by N messages
#   worker -> moo   first {"ready": true} or {"ready": false, "error": "Type: message"}
#                   then per request: header frame {"status", "content_type"}, body frame
# The predictor's own prints go to stderr: stdout carries frames only.
import json
import os
import select
import struct
import sys
import threading
import time
import traceback

_IN = 0
_OUT = os.dup(1)
os.dup2(2, 1)
sys.stdout = sys.stderr
_U32 = struct.Struct(">I")

# Input is read in large pieces and cut into frames here. Answers wait in _pending and go
# out in one write when no whole frame is left to read (moo writes requests in groups) or
# after _HOLD_N of them, but only while predict() has been quick: once a call takes _QUICK
# seconds or more, every answer goes out as soon as it is made for the next _QUIET calls.
# (One slow call after a quick run delays the few answers made just before it.)
_buf = bytearray()
_pos = 0
_pending = []
_QUICK = 0.0001
_QUIET = 64
_HOLD_N = 8
_hold_off = _QUIET


def _flush():
    global _pending
    if not _pending:
        return
    data = memoryview(b"".join(_pending))
    _pending = []
    while data:
        data = data[os.write(_OUT, data):]


def _frame():
    global _buf, _pos
    while True:
        have = len(_buf) - _pos
        if have >= 4:
            (n,) = _U32.unpack_from(_buf, _pos)
            if have - 4 >= n:
                start = _pos + 4
                _pos = start + n
                with memoryview(_buf) as m:
                    return bytes(m[start:_pos])
            want = n + 4 - have
        else:
            want = 4 - have
        _flush()  # nothing more to answer until more arrives
        if _pos:
            del _buf[:_pos]
            _pos = 0
        b = os.read(_IN, min(max(want, 1 << 16), 1 << 22))
        if not b:
            raise EOFError
        _buf += b


def _send(chunks, now=True):
    for c in chunks:
        _pending.append(_U32.pack(len(c)))
        _pending.append(c)
    if now or len(_pending) >= 4 * _HOLD_N:
        _flush()


# Bodies read as JSON: curl -d sends form-urlencoded, fetch() of a string text/plain.
_JSON_TYPES = ("", "application/json", "application/x-www-form-urlencoded", "text/plain")


_OK = json.dumps({"status": 200, "content_type": "application/json"}).encode()


class BadRequest(Exception):
    pass


def _json_body(body):
    try:
        return json.loads(body)
    except ValueError as e:
        raise BadRequest("malformed JSON: %s" % e)


def _number(cell):
    """A CSV cell as a number, or None. float() takes "nan" and "inf" too: they are numbers."""
    try:
        return float(cell.strip())
    except ValueError:
        return None


def _csv_rows(text):
    """The rows of a CSV body (RFC 4180, quoted cells read as their text): a UTF-8 BOM
    (Excel's "CSV UTF-8") dropped; the first line a header when none of its cells is a
    number; any other line that is not all numbers a BadRequest naming it."""
    import csv
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = []
    reader = csv.reader(text.splitlines())
    first = True
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            nums = [_number(c) for c in cells]
            if None in nums:
                if first and all(n is None for n in nums):
                    first = False
                    continue  # a header line
                bad = cells[nums.index(None)]
                raise BadRequest("CSV line %d is not numbers: %r is not a number (only the "
                                 "first line may be a header)" % (reader.line_num, bad[:40]))
            first = False
            rows.append(nums)
    except csv.Error as e:
        raise BadRequest("CSV line %d cannot be read: %s" % (reader.line_num, e))
    return rows


def _reshape(flat, shape):
    if len(shape) <= 1:
        return list(flat)
    step = 1
    for d in shape[1:]:
        step *= d
    return [_reshape(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


class NotTensor(Exception):
    pass


def _regular(x, what):
    """x's values in row-major order and its shape; NotTensor(what ...) when its lists are
    ragged ([[1, 2], [3]])."""
    if not isinstance(x, (list, tuple)):
        return [x], []
    if not x:
        return [], [0]
    subs = [_regular(e, what) for e in x]
    inner = subs[0][1]
    flat = []
    for f, sh in subs:
        if sh != inner:
            raise NotTensor("%s is ragged: its lists are not all of one shape" % what)
        flat.extend(f)
    return flat, [len(x)] + inner


# KServe's Open Inference Protocol v2 tensor datatypes: what each one's data may hold.
def _is_int(lo, hi):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


_DATATYPES = {
    "BOOL": lambda v: isinstance(v, bool),
    "UINT8": _is_int(0, 2**8 - 1), "UINT16": _is_int(0, 2**16 - 1),
    "UINT32": _is_int(0, 2**32 - 1), "UINT64": _is_int(0, 2**64 - 1),
    "INT8": _is_int(-2**7, 2**7 - 1), "INT16": _is_int(-2**15, 2**15 - 1),
    "INT32": _is_int(-2**31, 2**31 - 1), "INT64": _is_int(-2**63, 2**63 - 1),
    "FP16": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "FP32": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "FP64": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "BYTES": lambda v: isinstance(v, str),
}


def _datatype(flat, name):
    if all(isinstance(v, bool) for v in flat):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        return "INT64"
    if all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
        return "FP64"  # None: a NaN, as JSON writes it
    if all(isinstance(v, str) for v in flat):
        return "BYTES"
    raise NotTensor("output '%s' holds values that are not numbers, booleans or strings "
                    "(%s)" % (name, type(next(v for v in flat if not isinstance(
                        v, (bool, int, float, str)) and v is not None)).__name__))


_PIECE = 1 << 20
_scratch = []  # files made for requests, removed once predict() is done with them


def _drop_scratch():
    while _scratch:
        try:
            os.unlink(_scratch.pop())
        except OSError:
            pass


def _parts(f, boundary):
    """The parts of a multipart body read from f piece by piece: (headers, sink) is asked
    of _part_sink for each, and its bytes are handed to the sink as they come, so that a
    large file is never held whole. RFC 7578: parts are delimited by CRLF "--" boundary."""
    from email import policy
    from email.parser import BytesHeaderParser
    delim = b"--" + boundary
    sep = b"\r\n" + delim
    buf = b"\r\n" + f.read(_PIECE)  # the first delimiter has no CRLF before it
    i = buf.find(sep)
    while i < 0:  # a preamble
        more = f.read(_PIECE)
        if not more:
            raise BadRequest("the multipart/form-data body has no part")
        buf = buf[-len(sep):] + more
        i = buf.find(sep)
    buf = buf[i + len(sep):]
    while True:
        while len(buf) < 2:
            more = f.read(_PIECE)
            if not more:
                raise BadRequest("the multipart/form-data body ends inside a part")
            buf += more
        if buf.startswith(b"--"):
            return  # the close delimiter
        i = buf.find(b"\r\n\r\n")
        while i < 0:
            if len(buf) > 65536:
                raise BadRequest("a part of the multipart/form-data body has no end of headers")
            more = f.read(_PIECE)
            if not more:
                raise BadRequest("the multipart/form-data body ends inside a part's headers")
            buf += more
            i = buf.find(b"\r\n\r\n")
        line_end = buf.find(b"\r\n")  # the rest of the delimiter's line (whitespace)
        headers = BytesHeaderParser(policy=policy.HTTP).parsebytes(buf[line_end + 2:i + 4])
        sink = yield headers
        buf = buf[i + 4:]
        while True:
            j = buf.find(sep)
            if j >= 0:
                sink(buf[:j])
                buf = buf[j + len(sep):]
                break
            keep = len(sep) - 1
            if len(buf) > keep:
                sink(buf[:-keep])
                buf = buf[-keep:]
            more = f.read(_PIECE)
            if not more:
                raise BadRequest("the multipart/form-data body ends inside a part")
            buf += more


def _multipart(head, f, spooled):
    """A multipart/form-data body (curl -F 'file=@PATH', an HTML form): the request of its
    first file, as if that file had been the body (JSON and CSV read as such, anything else
    raw), with its "filename" and the form's other fields as "fields". From a body moo
    spooled (over 1 MiB), a raw file's bytes go to a file of their own beside it, given as
    body_file and removed once predict() returns: never read whole into memory."""
    import email.message
    m = email.message.Message()
    m["Content-Type"] = head.get("content_type", "")
    boundary = m.get_param("boundary")
    if not boundary or not isinstance(boundary, str):
        raise BadRequest("the multipart/form-data body cannot be read (no boundary?)")
    fields, first, chunks, out = {}, None, [], None
    parts = _parts(f, boundary.encode("latin-1", "replace"))
    try:
        headers = next(parts)
        while True:
            name = headers.get_param("name", header="content-disposition")
            filename = headers.get_filename()
            chunks = []
            sink = chunks.append
            if filename is not None and first is None:
                ptype = headers["Content-Type"] and headers.get_content_type() or "application/octet-stream"
                first = [ptype, filename, chunks, None]
                if spooled and ptype not in _JSON_TYPES and ptype != "text/csv":
                    first[3] = head["body_file"] + ".part"  # in moo's own 0700 folder
                    out = os.fdopen(os.open(first[3], os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                            | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600), "wb")
                    _scratch.append(first[3])
                    sink = out.write
            elif filename is None and name:
                fields[name] = chunks
            elif filename is not None:
                sink = lambda b: None  # a second file: not passed on
            headers = parts.send(sink)
    except StopIteration:
        pass
    finally:
        if out is not None:
            out.close()
    if first is None:
        raise BadRequest("the multipart/form-data body holds no file: send one with -F 'file=@PATH'")
    fields = {k: b"".join(v).decode("utf-8", "replace") for k, v in fields.items()}
    if first[3] is not None:
        req = {"content_type": first[0], "body_file": first[3]}
    else:
        req = _request(dict(head, content_type=first[0], body_file=None), b"".join(first[2]))
    if isinstance(req, dict):
        req = dict(req, filename=first[1], fields=fields)
    return req


def _request(head, body):
    """The request predict() gets: {"instances": [...]} for JSON and CSV, else raw bytes."""
    path = head.get("path", "")
    ctype = (head.get("content_type") or "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        if head.get("body_file"):
            with open(head["body_file"], "rb") as f:
                return _multipart(head, f, True)
        import io
        return _multipart(head, io.BytesIO(body), False)
    if head.get("body_file"):
        if ctype in _JSON_TYPES or ctype == "text/csv":
            with open(head["body_file"], "rb") as f:
                body = f.read()
        else:
            return {"content_type": ctype, "body_file": head["body_file"]}
    if path.endswith("/infer"):
        doc = _json_body(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
            raise BadRequest("an inference request needs 'inputs', a list of tensors")
        inputs = []
        for t in doc["inputs"]:
            if not isinstance(t, dict) or not all(k in t for k in ("name", "shape", "datatype", "data")):
                raise BadRequest("each input needs 'name', 'shape', 'datatype' and 'data'")
            data = t["data"]
            shape = t["shape"]
            dtype = t["datatype"]
            if not isinstance(shape, list) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
                raise BadRequest("input '%s': 'shape' must be a list of sizes" % t["name"])
            if dtype not in _DATATYPES:
                raise BadRequest("input '%s': datatype %r is none of %s"
                                 % (t["name"], dtype, ", ".join(_DATATYPES)))
            try:
                flat, _ = _regular(data, "input '%s': 'data'" % t["name"])
            except NotTensor as e:
                raise BadRequest(str(e))
            ok = _DATATYPES[dtype]
            for v in flat:
                if not ok(v):
                    raise BadRequest("input '%s': %s data holds %s, which is not %s"
                                     % (t["name"], dtype, json.dumps(v)[:40],
                                        "a string" if dtype == "BYTES" else
                                        "true or false" if dtype == "BOOL" else
                                        "an integer in its range" if "INT" in dtype else
                                        "a number"))
            n = 1
            for d in shape:
                n *= d
            if n != len(flat):
                raise BadRequest("input '%s': shape %s holds %d values, data has %d"
                                 % (t["name"], shape, n, len(flat)))
            inputs.append(dict(t, data=_reshape(flat, shape)))
        req = {"instances": inputs[0]["data"], "inputs": inputs, "protocol": "v2"}
        if "id" in doc:
            req["id"] = doc["id"]
        if "parameters" in doc:
            req["parameters"] = doc["parameters"]
        return req
    if ctype == "text/csv":
        rows = _csv_rows(body.decode("utf-8", "replace"))
        if not rows:
            raise BadRequest("the CSV body holds no rows")
        return {"instances": rows, "protocol": "csv"}
    if ctype in _JSON_TYPES:
        doc = _json_body(body)
        if isinstance(doc, dict):
            if "instances" in doc:
                return dict(doc, protocol="mlflow")
            if "inputs" in doc:
                return dict(doc, instances=doc["inputs"], protocol="mlflow")
            if "dataframe_split" in doc:
                d = doc["dataframe_split"]
                if not isinstance(d, dict) or "data" not in d:
                    raise BadRequest("'dataframe_split' needs 'data'")
                return {"instances": d["data"], "columns": d.get("columns"), "protocol": "mlflow"}
            if "dataframe_records" in doc:
                recs = doc["dataframe_records"]
                if not isinstance(recs, list) or not all(isinstance(r, dict) for r in recs):
                    raise BadRequest("'dataframe_records' must be a list of objects")
                cols = list(recs[0].keys()) if recs else []
                return {"instances": [[r.get(c) for c in cols] for r in recs],
                        "columns": cols, "protocol": "mlflow"}
            return dict(doc, protocol="json")
        return {"instances": doc, "protocol": "json"}
    return {"content_type": ctype, "body": body}


def _answer(head, req, result, model_name):
    """predict()'s result as the protocol of the request asks."""
    if isinstance(result, dict):
        doc = result
    else:
        if hasattr(result, "tolist"):
            result = result.tolist()
        doc = {"predictions": result}
    if head.get("path", "").endswith("/infer"):
        # A list or array is the tensor "predictions"; so is a dict's "predictions"; a dict
        # without it gives a tensor for each of its keys.
        tensors = doc.items() if "predictions" not in doc else [("predictions", doc["predictions"])]
        outputs = []
        for name, value in tensors:
            if hasattr(value, "tolist"):
                value = value.tolist()
            if isinstance(value, dict):
                raise NotTensor("output '%s' is a dict" % name)
            flat, shape = _regular(value, "output '%s'" % name)
            outputs.append({"name": str(name), "shape": shape,
                            "datatype": _datatype(flat, name), "data": flat})
        out = {"model_name": model_name, "outputs": outputs}
        if isinstance(req, dict) and "id" in req:
            out["id"] = req["id"]
        doc = out
    return _encode(doc).encode()


def _default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    raise TypeError("%s is not JSON" % type(o).__name__)


def _finite(o):
    """o with NaN and +-Infinity as None (null), as JavaScript's JSON.stringify writes them:
    JSON has no such numbers."""
    if isinstance(o, float):
        return o if o - o == 0 else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if hasattr(o, "tolist"):
        return _finite(o.tolist())
    return o


# json.dumps(doc, default=_default), refusing NaN and Infinity: the rare answer that holds
# one is encoded again with them as null (_finite), the others pay nothing for it.
_encode_strict = json.JSONEncoder(default=_default, allow_nan=False).encode


def _encode(doc):
    try:
        return _encode_strict(doc)
    except ValueError:
        return _encode_strict(_finite(doc))
_heads = {}


def _head(raw):
    """A header frame read as JSON. Headers repeat (moo puts no per-request value in one
    without a body_file), so the last few are kept, read-only, by their bytes."""
    h = _heads.get(raw)
    if h is None:
        h = json.loads(raw)
        if "body_file" not in h:
            if len(_heads) >= 64:
                _heads.clear()
            _heads[raw] = h
    return h


def _error(status, msg):
    return [json.dumps({"status": status, "content_type": "application/json"}).encode(),
            json.dumps({"error": msg}).encode()]


_NOT_TENSOR = ("predict's result is no /infer answer (return a list or array, or a dict of "
               "them, one output tensor each): ")
_WHAT_MAX = 300


def _what(exc):
    """The exception as one bounded line: its type and its message's first line, " ..."
    after it when more lines follow (sklearn's run to several)."""
    t = type(exc)
    name = t.__qualname__
    if t.__module__ not in ("builtins", "__main__"):
        name = "%s.%s" % (t.__module__, name)
    try:
        msg = str(exc)
    except Exception:
        msg = ""
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    text = name
    if lines:
        text += ": " + lines[0] + (" ..." if len(lines) > 1 else "")
    if len(text) > _WHAT_MAX:
        text = text[:_WHAT_MAX - 4].rstrip() + " ..."
    return text


def _watch_input():
    """Ends the worker once moo has closed its input (moo serve stopped, or the SSH session
    of a worker on a host is gone), even while load() or predict() runs and nothing reads
    it: the end of a pipe or socket is a POLLHUP, reported whatever the mask."""
    p = select.poll()
    p.register(0, 0)
    while True:
        for _, ev in p.poll():
            if ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                os._exit(0)


def main():
    global _hold_off
    threading.Thread(target=_watch_input, daemon=True).start()
    entry, model_dir = sys.argv[1], sys.argv[2]
    model_name = sys.argv[3] if len(sys.argv) > 3 else "model"
    sys.path.insert(0, os.getcwd())
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location("moo_predictor", entry)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        if not hasattr(mod, "predict") and not hasattr(mod, "predict_batch"):
            raise AttributeError("%s defines neither predict(model, request) nor predict_batch" % entry)
        model = mod.load(model_dir) if hasattr(mod, "load") else None
    except BaseException as e:
        traceback.print_exc()
        sys.stderr.flush()
        try:
            _send([json.dumps({"ready": False, "error": _what(e)}).encode()])
        except OSError:
            pass
        return 1
    predict = getattr(mod, "predict", None)
    predict_batch = getattr(mod, "predict_batch", None)
    try:
        _send([json.dumps({"ready": True, "batch": predict_batch is not None}).encode()])
    except OSError:
        return 0
    while True:
        try:
            head = _head(_frame())
            body = _frame()
        except (EOFError, OSError):
            return 0
        msgs = [(head, body)]
        if "batch" in head:
            msgs = []
            for _ in range(head["batch"]):
                h = _head(_frame())
                msgs.append((h, _frame()))
        reqs, out = [], [None] * len(msgs)
        for i, (h, b) in enumerate(msgs):
            try:
                reqs.append((i, _request(h, b)))
            except BadRequest as e:
                out[i] = _error(400, str(e))
        reqs_by_i = dict(reqs)
        if predict_batch is not None and reqs:
            try:
                results = predict_batch(model, [r for _, r in reqs])
                if len(results) != len(reqs):
                    raise ValueError("predict_batch returned %d results for %d requests"
                                     % (len(results), len(reqs)))
                for (i, _), res in zip(reqs, results):
                    out[i] = [_OK, _answer(msgs[i][0], reqs_by_i[i], res, model_name)]
            except NotTensor as e:
                for i, _ in reqs:
                    out[i] = _error(500, _NOT_TENSOR + str(e))
            except Exception as e:
                traceback.print_exc()
                sys.stderr.flush()
                for i, _ in reqs:
                    out[i] = _error(500, "predict_batch failed: " + _what(e))
        else:
            # One by one: each answer goes out as soon as it is made (moo delivers it at
            # once), but while predict() is quick a few are written at once (_QUICK).
            try:
                for i, (h, b) in enumerate(msgs):
                    if out[i] is None:
                        r = reqs_by_i[i]
                        try:
                            t0 = time.perf_counter()
                            out[i] = [_OK, _answer(h, r, predict(model, r), model_name)]
                            if time.perf_counter() - t0 >= _QUICK:
                                _hold_off = _QUIET
                            elif _hold_off:
                                _hold_off -= 1
                        except NotTensor as e:
                            out[i] = _error(500, _NOT_TENSOR + str(e))
                        except Exception as e:
                            traceback.print_exc()
                            sys.stderr.flush()
                            out[i] = _error(500, "predict failed: " + _what(e))
                    _drop_scratch()
                    _send(out[i], _hold_off > 0)
            except OSError:
                return 0
            continue
        _drop_scratch()
        try:
            _send([c for o in out for c in o])
        except OSError:
            return 0


sys.exit(main())
