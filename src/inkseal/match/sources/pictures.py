"""Where pages hide their pictures from a plain HTML reader, and what counts as a picture URL.

Lazy loaders keep the real picture in a `data-*` attribute and put a placeholder (a tiny data: GIF,
an SVG, a "blank.gif") in `src` until a script swaps them; article platforms use their own names
(WeChat `data-src`, Zhihu `data-original` / `data-actualsrc`, jQuery lazyload `data-original`,
lazysizes `data-src` / `data-srcset`, echo.js `data-echo`, unveil `data-src-retina`, NYT
`data-hi-res-src`). The attribute that found a picture is kept as its `how`.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

# Attributes holding one picture URL, in the order they are preferred.
LAZY_ATTRS = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-actualsrc", "data-original-src",
              "data-hi-res-src", "data-src-retina", "data-full-src", "data-large-src", "data-echo", "data-url",
              "data-lazyload", "data-croporisrc", "data-default-watermark-src", "data-bg", "data-background",
              "data-background-image", "data-image", "data-img", "data-thumb")
LAZY_SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset", "data-original-set")
# Names also used for things other than pictures (a share link in `data-url`): even on an <img>, their
# value is taken only when it looks like a picture.
AMBIGUOUS_ATTRS = frozenset({"data-url", "data-image", "data-img", "data-thumb", "data-bg", "data-background",
                             "data-background-image", "data-lazy"})
# On elements other than <img>, a data-* attribute is taken only when its value looks like a picture
# (`data-url` on a link is usually a page).
META_PICTURES = ("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src",
                 "twitter:image:secure_url", "thumbnail", "image")

_PLACEHOLDER_NAME = re.compile(r"(?:^|[/_-])(?:blank|spacer|placeholder|loading|lazy|transparent|pixel|grey|gray|"
                               r"1x1|empty|clear)[\w.-]*\.(?:gif|png|svg)$", re.I)
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|jfif|png|webp|gif|avif|bmp|heic|heif|tiff?)(?:$|[@!~_:?])", re.I)
_IMAGE_QUERY = re.compile(r"(?:^|[&/])(?:wx_fmt|fmt|format|f|type)[=/](?:jpe?g|png|webp|gif|avif)", re.I)
_NOT_IMAGE_EXT = re.compile(r"\.(?:js|mjs|css|html?|json|xml|mp4|m3u8|mp3|webm|woff2?|ttf|svg|txt|pdf)$", re.I)
# Picture CDNs of the platforms the copies were found on: their URLs often carry no extension.
IMAGE_HOSTS = ("mmbiz.qpic.cn", "mmbiz.qlogo.cn", "sinaimg.cn", "xhscdn.com", "xiaohongshu.com", "zhimg.com",
               "toutiaoimg.com", "byteimg.com", "pstatp.com", "bdimg.com", "bdstatic.com", "hdslb.com",
               "qhimg.com", "pinimg.com", "twimg.com", "gtimg.cn")
_IMAGE_KEY = re.compile(r"img|image|pic|photo|cover|thumb|poster|banner|urldefault|url_default|large|original|avatar",
                        re.I)
NEVER_FETCHED = ("javascript:", "vbscript:", "file:", "ftp:", "about:", "blob:", "chrome:", "mailto:")


def looks_like_image(url: str, context: str = "") -> bool:
    """An http(s) (or scheme-relative) URL that names a picture: by its extension, a format in its
    query, a picture CDN's host, or the JSON key / attribute that held it (`context`)."""
    if not url.startswith(("http://", "https://", "//")):
        return False
    try:
        parsed = urlparse(url if not url.startswith("//") else "https:" + url)
        host = (parsed.hostname or "").lower()
    except ValueError:
        return False
    if not host:
        return False
    last = parsed.path.rsplit("/", 1)[-1]
    if _IMAGE_EXT.search(last) or _IMAGE_QUERY.search(parsed.query) or _IMAGE_QUERY.search(parsed.path):
        return True
    if _NOT_IMAGE_EXT.search(last):
        return False
    if any(host == h or host.endswith("." + h) for h in IMAGE_HOSTS):
        return True
    key = context.rsplit(".", 2)[-2:] if context else []
    return any(_IMAGE_KEY.search(k) for k in key)


def is_placeholder(src: str) -> bool:
    """A `src` that only holds the place of a lazy picture: a small data: URI (tiny GIF/PNG, an SVG
    box) or a file named like a spacer."""
    low = src.strip().lower()
    if not low:
        return True
    if low.startswith("data:"):
        return len(low) < 2048 or low.startswith("data:image/svg")
    return bool(_PLACEHOLDER_NAME.search(urlparse(low).path))


def picture_value(value: str, context: str) -> bool:
    """A data-* value on an element other than <img> that names a picture: an image-looking
    http(s) URL, or a relative one with a picture's extension."""
    value = value.strip()
    if value.startswith(("http://", "https://", "//")):
        return looks_like_image(value, context)
    if ":" in value.split("/", 1)[0] or not value:
        return False  # another scheme (javascript:, file:, data:) or nothing
    return bool(_IMAGE_EXT.search(urlparse(value).path.rsplit("/", 1)[-1]))


def refused_scheme(url: str) -> str | None:
    """The scheme of a URL that is never fetched (`javascript:`, `file:`, ...), else None."""
    low = url.strip()[:16].lower()
    return next((s for s in NEVER_FETCHED if low.startswith(s)), None)
