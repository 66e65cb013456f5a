using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace WebSockets.Redis.Internal;

/// <summary>One argument of a Redis command: a string, bytes or an integer.</summary>
internal readonly struct RedisArg
{
    private readonly string? _text;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly long _number;
    private readonly byte _kind;

    private RedisArg(string? text, ReadOnlyMemory<byte> bytes, long number, byte kind)
    {
        _text = text;
        _bytes = bytes;
        _number = number;
        _kind = kind;
    }

    public static implicit operator RedisArg(string text) => new(text, default, 0, 0);

    public static implicit operator RedisArg(byte[] bytes) => new(null, bytes, 0, 1);

    public static implicit operator RedisArg(ReadOnlyMemory<byte> bytes) => new(null, bytes, 0, 1);

    public static implicit operator RedisArg(long number) => new(null, default, number, 2);

    public void WriteTo(IBufferWriter<byte> writer)
    {
        switch (_kind)
        {
            case 0:
                var length = Encoding.UTF8.GetByteCount(_text!);
                RedisProtocol.WriteHeader(writer, (byte)'$', length);
                Encoding.UTF8.GetBytes(_text, writer.GetSpan(length));
                writer.Advance(length);
                break;
            case 1:
                RedisProtocol.WriteHeader(writer, (byte)'$', _bytes.Length);
                writer.Write(_bytes.Span);
                break;
            default:
                Span<byte> digits = stackalloc byte[20];
                Utf8Formatter.TryFormat(_number, digits, out var written);
                RedisProtocol.WriteHeader(writer, (byte)'$', written);
                writer.Write(digits[..written]);
                break;
        }

        RedisProtocol.WriteCrlf(writer);
    }

    public override string ToString() => _kind switch { 0 => _text!, 1 => $"<{_bytes.Length} bytes>", _ => _number.ToString(System.Globalization.CultureInfo.InvariantCulture) };
}

internal enum RedisReplyKind : byte
{
    SimpleString,
    Error,
    Integer,
    Bulk,
    Array,
    Null,
}

/// <summary>A RESP2 reply.</summary>
internal sealed class RedisReply
{
    public static readonly RedisReply Nil = new(RedisReplyKind.Null);

    private RedisReply(RedisReplyKind kind, byte[]? bytes = null, long integer = 0, RedisReply[]? items = null)
    {
        Kind = kind;
        Bytes = bytes;
        Integer = integer;
        Items = items;
    }

    public RedisReplyKind Kind { get; }

    /// <summary>The bytes of a bulk or simple string, or the message of an error. Owned by the reply.</summary>
    public byte[]? Bytes { get; }

    public long Integer { get; }

    public RedisReply[]? Items { get; }

    public bool IsNull => Kind == RedisReplyKind.Null;

    public static RedisReply Simple(RedisReplyKind kind, byte[] bytes) => new(kind, bytes);

    public static RedisReply FromInteger(long value) => new(RedisReplyKind.Integer, integer: value);

    public static RedisReply FromArray(RedisReply[] items) => new(RedisReplyKind.Array, items: items);

    public string? AsString() => Bytes is null ? Kind == RedisReplyKind.Integer ? Integer.ToString(System.Globalization.CultureInfo.InvariantCulture) : null : Encoding.UTF8.GetString(Bytes);

    public long AsInteger() => Kind == RedisReplyKind.Integer ? Integer : long.Parse(AsString() ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    public RedisReply[] AsArray() => Items ?? [];

    /// <summary>Throws <see cref="RedisServerException"/> for an error reply; returns the reply otherwise.</summary>
    public RedisReply ThrowIfError() => Kind == RedisReplyKind.Error ? throw new RedisServerException(AsString() ?? "ERR") : this;
}

/// <summary>Redis answered a command with an error.</summary>
internal sealed class RedisServerException(string message) : Exception(message);

/// <summary>The connection to Redis is down or was lost before the reply came.</summary>
internal sealed class RedisConnectionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Encodes commands and decodes replies of RESP2, the Redis serialization protocol.</summary>
internal static class RedisProtocol
{
    private const int MaxDepth = 8;

    public static void WriteCommand(IBufferWriter<byte> writer, ReadOnlySpan<RedisArg> args)
    {
        WriteHeader(writer, (byte)'*', args.Length);
        foreach (var arg in args)
        {
            arg.WriteTo(writer);
        }
    }

    /// <summary>Writes <c>{prefix}{length}\r\n</c>.</summary>
    internal static void WriteHeader(IBufferWriter<byte> writer, byte prefix, int length)
    {
        var span = writer.GetSpan(12);
        span[0] = prefix;
        Utf8Formatter.TryFormat(length, span[1..], out var written);
        span[1 + written] = (byte)'\r';
        span[2 + written] = (byte)'\n';
        writer.Advance(written + 3);
    }

    internal static void WriteCrlf(IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(2);
        span[0] = (byte)'\r';
        span[1] = (byte)'\n';
        writer.Advance(2);
    }

    /// <summary>Redis's own limit on a bulk string (proto-max-bulk-len's default): a longer one is not from Redis.</summary>
    internal const long MaxBulkLength = 512L * 1024 * 1024;

    /// <summary>The longest header, simple string or error line accepted before its CRLF.</summary>
    internal const int MaxLineLength = 64 * 1024;

    /// <summary>
    /// Scans, without allocating, whether <paramref name="buffer"/> holds one whole reply. Resumable: it continues from
    /// <paramref name="scanned"/> bytes with <paramref name="pending"/> elements still expected (0 for a new reply), so a
    /// reply that arrives in many reads is scanned once, not once per read. Throws <see cref="InvalidDataException"/>
    /// for input that is not RESP2 from Redis.
    /// </summary>
    public static bool TryScan(ReadOnlySequence<byte> buffer, ref long scanned, ref long pending)
    {
        var reader = new SequenceReader<byte>(buffer.Slice(scanned));
        if (pending == 0)
        {
            pending = 1;
        }

        while (pending > 0)
        {
            var start = reader.Consumed;
            if (!reader.TryRead(out var prefix) || !reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
            {
                if (reader.Remaining > MaxLineLength)
                {
                    throw new InvalidDataException("A line of the reply from Redis has no end.");
                }

                scanned += start;
                return false;
            }

            var more = 0L;
            switch (prefix)
            {
                case (byte)'+' or (byte)'-':
                    break;
                case (byte)':':
                    ParseInteger(line);
                    break;
                case (byte)'$':
                    var length = ParseInteger(line);
                    if (length > MaxBulkLength)
                    {
                        throw new InvalidDataException($"A bulk string of {length} bytes in the reply from Redis is longer than Redis allows.");
                    }

                    if (length >= 0)
                    {
                        if (reader.Remaining < length + 2)
                        {
                            scanned += start;
                            return false;
                        }

                        reader.Advance(length);
                        if (!reader.IsNext("\r\n"u8, advancePast: true))
                        {
                            throw new InvalidDataException("A bulk string in the reply from Redis does not end with CRLF.");
                        }
                    }

                    break;
                case (byte)'*':
                    more = Math.Max(0, ParseInteger(line));
                    break;
                default:
                    throw new InvalidDataException($"Unexpected byte 0x{prefix:x2} in the reply from Redis.");
            }

            pending += more - 1;
        }

        scanned += reader.Consumed;
        return true;
    }

    /// <summary>Reads one whole reply; false when the buffer holds only part of it (the reader is then unchanged).</summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out RedisReply reply)
    {
        var start = reader;
        if (TryReadCore(ref reader, 0, out reply!))
        {
            return true;
        }

        reader = start;
        return false;
    }

    private static bool TryReadCore(ref SequenceReader<byte> reader, int depth, out RedisReply? reply)
    {
        reply = null;
        if (!reader.TryRead(out var prefix) || !reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
        {
            return false;
        }

        switch (prefix)
        {
            case (byte)'+':
                reply = RedisReply.Simple(RedisReplyKind.SimpleString, line.ToArray());
                return true;
            case (byte)'-':
                reply = RedisReply.Simple(RedisReplyKind.Error, line.ToArray());
                return true;
            case (byte)':':
                reply = RedisReply.FromInteger(ParseInteger(line));
                return true;
            case (byte)'$':
                var length = ParseInteger(line);
                if (length < 0)
                {
                    reply = RedisReply.Nil;
                    return true;
                }

                if (length > MaxBulkLength)
                {
                    throw new InvalidDataException($"A bulk string of {length} bytes in the reply from Redis is longer than Redis allows.");
                }

                if (reader.Remaining < length + 2)
                {
                    return false;
                }

                var bytes = new byte[length];
                reader.TryCopyTo(bytes);
                reader.Advance(length + 2);
                reply = RedisReply.Simple(RedisReplyKind.Bulk, bytes);
                return true;
            case (byte)'*':
                var count = ParseInteger(line);
                if (count < 0)
                {
                    reply = RedisReply.Nil;
                    return true;
                }

                if (depth >= MaxDepth)
                {
                    throw new InvalidDataException("The reply from Redis is nested too deeply.");
                }

                // Every item takes at least 3 bytes ("+\r\n"): never allocate for items that have not arrived.
                if (count > reader.Remaining / 3)
                {
                    return false;
                }

                var items = new RedisReply[count];
                for (var i = 0; i < count; i++)
                {
                    if (!TryReadCore(ref reader, depth + 1, out var item))
                    {
                        return false;
                    }

                    items[i] = item!;
                }

                reply = RedisReply.FromArray(items);
                return true;
            default:
                throw new InvalidDataException($"Unexpected byte 0x{prefix:x2} in the reply from Redis.");
        }
    }

    private static long ParseInteger(ReadOnlySequence<byte> line)
    {
        Span<byte> buffer = stackalloc byte[24];
        if (line.Length > buffer.Length)
        {
            throw new InvalidDataException("A number in the reply from Redis is too long.");
        }

        line.CopyTo(buffer);
        if (!Utf8Parser.TryParse(buffer[..(int)line.Length], out long value, out var consumed) || consumed != line.Length)
        {
            throw new InvalidDataException("A number in the reply from Redis is not valid.");
        }

        return value;
    }
}
