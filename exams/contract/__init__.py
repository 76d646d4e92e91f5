"""The API's contract: every REST body and socket frame, declared once and built in one place.

- `rest.py`, `frames.py`: the declarations (DRF serializers) of REST bodies and socket messages;
- `fields.py`: the strict field types they are written in;
- `builders.py`: the functions that turn models and selector reads into those bodies and frames;
- `parsing.py`: client input (socket messages, REST bodies), validated by the declarations;
- `codes.py`, `limits.py`: error codes, close codes and input limits;
- `schema.py`: the socket frames in the OpenAPI document; `docs.py`: docs/api.md's tables.
"""
