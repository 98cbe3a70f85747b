package dev.courier.internal;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.InvalidEventException;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Encodes string headers as a JSON object for storage in a text column. Public only so adapters
 * can share it; not part of the API.
 *
 * <p>Decoding is bounded: headers come back from the database, which may have been written by
 * another version or by hand, so the parser limits nesting and string length.
 */
public final class HeadersJson {
  private static final int MAX_BYTES = 64 * 1024;
  private static final ObjectMapper MAPPER =
      new ObjectMapper(
          JsonFactory.builder()
              .streamReadConstraints(
                  StreamReadConstraints.builder()
                      .maxNestingDepth(4)
                      .maxStringLength(MAX_BYTES)
                      .maxDocumentLength(MAX_BYTES)
                      .build())
              .build());
  private static final TypeReference<LinkedHashMap<String, String>> TYPE = new TypeReference<>() {};

  private HeadersJson() {}

  public static String encode(Map<String, String> headers) {
    if (headers == null || headers.isEmpty()) {
      return "{}";
    }
    try {
      return MAPPER.writeValueAsString(headers);
    } catch (IOException e) {
      throw new IllegalStateException("headers could not be encoded", e);
    }
  }

  public static Map<String, String> decode(String json) {
    if (json == null || json.isBlank() || json.equals("{}")) {
      // most events carry no application headers: skip the parser for the stored default
      return Map.of();
    }
    try {
      return MAPPER.readValue(json, TYPE);
    } catch (IOException e) {
      throw new InvalidEventException("stored headers are not a JSON object of strings: " + e.getMessage());
    }
  }
}
