using System.Text.Json;

namespace WebSockets.Internal;

/// <summary>
/// One protocol message, parsed without copying: <see cref="Data"/> and <see cref="Error"/> are slices of the frame.
/// </summary>
internal ref struct EventEnvelope
{
    /// <summary>The largest request ID: 2^53 − 1, so that JavaScript numbers hold it exactly.</summary>
    public const long MaxId = (1L << 53) - 1;

    public string? Event;
    public long? Id;
    public long? Reply;
    public ReadOnlySpan<byte> Data;
    public ReadOnlySpan<byte> Error;

    /// <summary>Parses one frame. On failure, <paramref name="code"/> and <paramref name="message"/> say why.</summary>
    public static bool TryParse(ReadOnlySpan<byte> frame, out EventEnvelope envelope, out string code, out string message)
    {
        envelope = default;
        code = message = string.Empty;
        var reader = new Utf8JsonReader(frame, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                (code, message) = (ErrorNotice.BadMessage, "A message must be a JSON object such as {\"event\":\"name\",\"data\":…}.");
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("event"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        (code, message) = (ErrorNotice.BadMessage, "\"event\" must be a string.");
                        reader.Skip();
                        continue;
                    }

                    envelope.Event = reader.GetString();
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    envelope.Data = frame[start..(int)reader.BytesConsumed];
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    if (!TryReadId(ref reader, out var id))
                    {
                        (code, message) = (ErrorNotice.BadMessage, $"\"id\" must be an integer from 1 to {MaxId}.");
                        continue;
                    }

                    envelope.Id = id;
                }
                else if (reader.ValueTextEquals("reply"u8))
                {
                    reader.Read();
                    if (!TryReadId(ref reader, out var id))
                    {
                        (code, message) = (ErrorNotice.BadMessage, $"\"reply\" must be an integer from 1 to {MaxId}.");
                        continue;
                    }

                    envelope.Reply = id;
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    envelope.Error = frame[start..(int)reader.BytesConsumed];
                }
                else
                {
                    // Unknown members are ignored, so that the protocol can grow.
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                (code, message) = (ErrorNotice.BadJson, "The message is not a single JSON object.");
                return false;
            }
        }
        catch (JsonException ex)
        {
            (code, message) = (ErrorNotice.BadJson, $"The message is not valid JSON: {ex.Message}");
            return false;
        }

        return code.Length == 0;
    }

    private static bool TryReadId(ref Utf8JsonReader reader, out long id)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out id) && id is >= 1 and <= MaxId)
        {
            return true;
        }

        reader.Skip();
        id = 0;
        return false;
    }
}
