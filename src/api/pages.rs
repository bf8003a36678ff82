//! Lazy pagination over the `offset`/`nextOffset` list calls.

use crate::http::client::MeteringClient;
use crate::http::error::Result;

/// One page: its items and the server's `nextOffset`.
pub(crate) type Page<T> = (Vec<T>, Option<u32>);

/// Iterates over every item of a list call, fetching one page at a time.
///
/// The first request uses `query` as given; later ones set its offset to the previous page's
/// `nextOffset`. It stops after an empty page, a missing or zero `nextOffset`, or one that does
/// not advance (a server bug that would otherwise loop forever), and after yielding an error.
/// At most one page is held in memory.
pub(crate) fn paginate<'c, Q: 'c, T: 'c>(
    client: &'c MeteringClient,
    mut query: Q,
    first_offset: u32,
    fetch: impl Fn(&MeteringClient, &Q) -> Result<Page<T>> + 'c,
    set_offset: impl Fn(&mut Q, u32) + 'c,
) -> impl Iterator<Item = Result<T>> + 'c {
    let mut page = Vec::new().into_iter();
    let mut offset = first_offset;
    let mut fetched = false;
    let mut done = false;
    std::iter::from_fn(move || {
        loop {
            if let Some(item) = page.next() {
                return Some(Ok(item));
            }
            if done {
                return None;
            }
            // Free the spent page before fetching the next one.
            page = Vec::new().into_iter();
            if fetched {
                set_offset(&mut query, offset);
            }
            fetched = true;
            match fetch(client, &query) {
                Err(e) => {
                    done = true;
                    return Some(Err(e));
                }
                Ok((items, next)) => {
                    match next {
                        Some(next) if !items.is_empty() && next > offset => offset = next,
                        _ => done = true,
                    }
                    page = items.into_iter();
                }
            }
        }
    })
}
