package dev.courier.admin;

import java.util.List;

/**
 * One page of a listing.
 *
 * @param items the rows of this page
 * @param page the page number, starting at 1
 * @param size the page size asked for
 * @param total how many rows match in all
 */
public record Page<T>(List<T> items, int page, int size, long total) {
  /** The largest page size accepted. */
  public static final int MAX_SIZE = 500;

  public Page {
    items = List.copyOf(items);
  }

  /**
   * Checks a page request.
   *
   * @throws InvalidRequestException if the page is below 1 or the size outside 1 to {@value #MAX_SIZE}
   */
  public static void check(int page, int size) {
    if (page < 1) {
      throw new InvalidRequestException("page", "pages start at 1, was " + page);
    }
    if (size < 1 || size > MAX_SIZE) {
      throw new InvalidRequestException("size", "must be between 1 and " + MAX_SIZE + ", was " + size);
    }
  }
}
