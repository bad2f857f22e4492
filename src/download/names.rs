//! Local file names for downloads: the last segment of a source URL, and the check that
//! a name (from a URL or a QueryHit) cannot escape the output folder.

use crate::http::client::HttpUrl;

/// A safe local file name from a URL path's last segment (percent-decoded), or `None`.
pub fn file_name_from_url(url: &str) -> Option<String> {
    let u = HttpUrl::parse(url).ok()?;
    let path = u.path.split('?').next()?;
    let last = path.rsplit('/').next()?;
    let name = percent_encoding::percent_decode_str(last)
        .decode_utf8()
        .ok()?
        .into_owned();
    sanitize_name(&name)
}

/// Refuses names that are empty, `.`/`..`, hidden, or contain a separator or NUL.
pub fn sanitize_name(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
    {
        return None;
    }
    Some(name.to_owned())
}
