using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

namespace WebSockets.Internal;

/// <summary>
/// What one server publishes to the others through the backplane: an operation and the audience it applies to.
/// A compact binary form: a version byte, the operation, a flags byte for the constraints present, then
/// length-prefixed UTF-8 strings and payloads. The backplane carries it without looking inside.
/// </summary>
/// <remarks>
/// Version 2 adds a trailer after the operation's fields: a flags byte, then the publish time (UTC ticks, 8 bytes) and
/// the W3C <c>traceparent</c> and <c>tracestate</c> of the publisher's <see cref="Activity.Current"/>, each only when
/// flagged. Readers take version 1 (no trailer) and version 2; from version 2 on, a reader skips trailer flags and bytes
/// it does not know, so later fields can be added at the end without a new version. A version-1 reader drops version-2
/// messages (logged as BadClusterMessage): in a cluster that mixes both, upgrade every server before relying on
/// cross-server delivery.
/// </remarks>
internal static class ClusterMessage
{
    public const byte Version = 2;
    private const byte Version1 = 1;

    public enum Operation : byte
    {
        Send = 1,
        Emit = 2,
        Disconnect = 3,
    }

    [Flags]
    private enum Parts : byte
    {
        None = 0,
        Namespace = 1,
        Rooms = 2,
        Users = 4,
        ConnectionIds = 8,
        Except = 16,
    }

    [Flags]
    private enum TrailerParts : byte
    {
        None = 0,
        SentAt = 1,
        TraceParent = 2,
        TraceState = 4,
    }

    /// <summary>A decoded message. Payloads, and the trace context, are slices of the received buffer.</summary>
    public readonly record struct Decoded(
        Operation Operation,
        AudienceTarget Target,
        SocketMessage Message,
        string? EventName,
        ReadOnlyMemory<byte> BatchItem,
        WebSocketCloseStatus CloseStatus,
        string? CloseDescription)
    {
        /// <summary>When it was published (UTC ticks of the publisher's clock); 0 when unknown.</summary>
        public long SentAtTicks { get; init; }

        /// <summary>The publisher's W3C traceparent (UTF-8), empty when it had no activity.</summary>
        public ReadOnlyMemory<byte> TraceParent { get; init; }

        /// <summary>The publisher's W3C tracestate (UTF-8), empty when none.</summary>
        public ReadOnlyMemory<byte> TraceState { get; init; }
    }

    /// <summary>What a version-2 message carries after the operation's fields.</summary>
    /// <param name="SentAtTicks">The publish time in UTC ticks; 0 leaves it out.</param>
    /// <param name="TraceParent">The W3C traceparent of the publisher's activity, or null.</param>
    /// <param name="TraceState">Its tracestate, or null.</param>
    public readonly record struct Trailer(long SentAtTicks, string? TraceParent, string? TraceState)
    {
        /// <summary>The time now, and the trace context of <see cref="Activity.Current"/> when it has a W3C ID.</summary>
        public static Trailer Capture(TimeProvider timeProvider)
        {
            var activity = Activity.Current;
            return activity is { IdFormat: ActivityIdFormat.W3C }
                ? new Trailer(timeProvider.GetUtcNow().UtcTicks, activity.Id, activity.TraceStateString)
                : new Trailer(timeProvider.GetUtcNow().UtcTicks, null, null);
        }
    }

    public static byte[] Send(AudienceTarget target, SocketMessage message, in Trailer trailer = default)
    {
        var writer = new ArrayBufferWriter<byte>(96 + message.Data.Length);
        WriteHeader(writer, Operation.Send, target);
        WriteByte(writer, (byte)message.MessageType);
        WriteBytes(writer, message.Data.Span);
        WriteTrailer(writer, trailer);
        return writer.WrittenSpan.ToArray();
    }

    public static byte[] Emit(AudienceTarget target, string eventName, SocketMessage frame, byte[]? batchItem, in Trailer trailer = default)
    {
        var writer = new ArrayBufferWriter<byte>(128 + frame.Data.Length + (batchItem?.Length ?? 0));
        WriteHeader(writer, Operation.Emit, target);
        WriteString(writer, eventName);
        WriteBytes(writer, frame.Data.Span);
        WriteBytes(writer, batchItem);
        WriteTrailer(writer, trailer);
        return writer.WrittenSpan.ToArray();
    }

    public static byte[] Disconnect(AudienceTarget target, WebSocketCloseStatus status, string? description, in Trailer trailer = default)
    {
        var writer = new ArrayBufferWriter<byte>(96);
        WriteHeader(writer, Operation.Disconnect, target);
        var span = writer.GetSpan(2);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)status);
        writer.Advance(2);
        WriteString(writer, description ?? string.Empty);
        WriteTrailer(writer, trailer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a message; false when it is not one this version understands or is cut short.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> buffer, out Decoded decoded)
    {
        decoded = default;
        var reader = new Reader(buffer);
        try
        {
            var version = reader.ReadByte();
            if (version is not (Version1 or Version))
            {
                return false;
            }

            var operation = (Operation)reader.ReadByte();
            var parts = (Parts)reader.ReadByte();
            var target = new AudienceTarget
            {
                Namespace = parts.HasFlag(Parts.Namespace) ? reader.ReadString() : null,
                Rooms = parts.HasFlag(Parts.Rooms) ? reader.ReadStrings() : null,
                Users = parts.HasFlag(Parts.Users) ? reader.ReadStrings() : null,
                ConnectionIds = parts.HasFlag(Parts.ConnectionIds) ? reader.ReadStrings() : null,
                Except = parts.HasFlag(Parts.Except) ? reader.ReadStrings() : null,
                LocalOnly = true,
            };

            switch (operation)
            {
                case Operation.Send:
                    var type = (WebSocketMessageType)reader.ReadByte();
                    if (type is not (WebSocketMessageType.Text or WebSocketMessageType.Binary))
                    {
                        return false;
                    }

                    decoded = new Decoded(operation, target, new SocketMessage(type, reader.ReadBytes()), null, default, default, null);
                    break;
                case Operation.Emit:
                    var eventName = reader.ReadString();
                    var frame = reader.ReadBytes();
                    var item = reader.ReadBytes();
                    decoded = new Decoded(operation, target, new SocketMessage(WebSocketMessageType.Text, frame), eventName, item, default, null);
                    break;
                case Operation.Disconnect:
                    var status = (WebSocketCloseStatus)reader.ReadUInt16();
                    var description = reader.ReadString();
                    if (!IsValidClose(status, description))
                    {
                        return false; // the WebSocket would refuse it, and the connection would end without a close frame
                    }

                    decoded = new Decoded(operation, target, default, null, default, status, description.Length == 0 ? null : description);
                    break;
                default:
                    return false;
            }

            if (version == Version1)
            {
                return reader.AtEnd;
            }

            // The trailer. Flags and bytes after the known fields are a later version's: skipped.
            var trailer = (TrailerParts)reader.ReadByte();
            decoded = decoded with
            {
                SentAtTicks = trailer.HasFlag(TrailerParts.SentAt) ? reader.ReadInt64() : 0,
                TraceParent = trailer.HasFlag(TrailerParts.TraceParent) ? reader.ReadBytes() : default,
                TraceState = trailer.HasFlag(TrailerParts.TraceState) ? reader.ReadBytes() : default,
            };
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>What a close frame can carry (RFC 6455 7.4): a code that may be sent, and a reason of at most 123 UTF-8 bytes.</summary>
    internal static bool IsValidClose(WebSocketCloseStatus status, string? description)
    {
        var code = (int)status;
        return code is >= 1000 and <= 4999 and not (1004 or 1005 or 1006 or 1015)
            && (description is null || Encoding.UTF8.GetByteCount(description) <= 123);
    }

    private static void WriteHeader(ArrayBufferWriter<byte> writer, Operation operation, AudienceTarget target)
    {
        var parts = Parts.None;
        parts |= target.Namespace is null ? Parts.None : Parts.Namespace;
        parts |= target.Rooms is null ? Parts.None : Parts.Rooms;
        parts |= target.Users is null ? Parts.None : Parts.Users;
        parts |= target.ConnectionIds is null ? Parts.None : Parts.ConnectionIds;
        parts |= target.Except is null ? Parts.None : Parts.Except;
        WriteByte(writer, Version);
        WriteByte(writer, (byte)operation);
        WriteByte(writer, (byte)parts);
        if (target.Namespace is { } ns)
        {
            WriteString(writer, ns);
        }

        WriteStrings(writer, target.Rooms);
        WriteStrings(writer, target.Users);
        WriteStrings(writer, target.ConnectionIds);
        WriteStrings(writer, target.Except);
    }

    private static void WriteTrailer(ArrayBufferWriter<byte> writer, in Trailer trailer)
    {
        var parts = TrailerParts.None;
        parts |= trailer.SentAtTicks == 0 ? TrailerParts.None : TrailerParts.SentAt;
        parts |= trailer.TraceParent is null ? TrailerParts.None : TrailerParts.TraceParent;
        parts |= trailer.TraceParent is null || string.IsNullOrEmpty(trailer.TraceState) ? TrailerParts.None : TrailerParts.TraceState;
        WriteByte(writer, (byte)parts);
        if (parts.HasFlag(TrailerParts.SentAt))
        {
            BinaryPrimitives.WriteInt64BigEndian(writer.GetSpan(8), trailer.SentAtTicks);
            writer.Advance(8);
        }

        if (parts.HasFlag(TrailerParts.TraceParent))
        {
            WriteString(writer, trailer.TraceParent!);
        }

        if (parts.HasFlag(TrailerParts.TraceState))
        {
            WriteString(writer, trailer.TraceState!);
        }
    }

    private static void WriteByte(ArrayBufferWriter<byte> writer, byte value)
    {
        writer.GetSpan(1)[0] = value;
        writer.Advance(1);
    }

    private static void WriteLength(ArrayBufferWriter<byte> writer, int length)
    {
        var span = writer.GetSpan(4);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        writer.Advance(4);
    }

    private static void WriteBytes(ArrayBufferWriter<byte> writer, ReadOnlySpan<byte> bytes)
    {
        WriteLength(writer, bytes.Length);
        writer.Write(bytes);
    }

    private static void WriteString(ArrayBufferWriter<byte> writer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        WriteLength(writer, length);
        Encoding.UTF8.GetBytes(value, writer.GetSpan(length));
        writer.Advance(length);
    }

    private static void WriteStrings(ArrayBufferWriter<byte> writer, string[]? values)
    {
        if (values is null)
        {
            return;
        }

        WriteLength(writer, values.Length);
        foreach (var value in values)
        {
            WriteString(writer, value);
        }
    }

    private struct Reader(ReadOnlyMemory<byte> buffer)
    {
        private int _position;

        public readonly bool AtEnd => _position == buffer.Length;

        public byte ReadByte()
        {
            Require(1);
            return buffer.Span[_position++];
        }

        public ushort ReadUInt16()
        {
            Require(2);
            var value = BinaryPrimitives.ReadUInt16BigEndian(buffer.Span[_position..]);
            _position += 2;
            return value;
        }

        public long ReadInt64()
        {
            Require(8);
            var value = BinaryPrimitives.ReadInt64BigEndian(buffer.Span[_position..]);
            _position += 8;
            return value;
        }

        public ReadOnlyMemory<byte> ReadBytes()
        {
            var length = ReadLength();
            Require(length);
            var slice = buffer.Slice(_position, length);
            _position += length;
            return slice;
        }

        public string ReadString() => Encoding.UTF8.GetString(ReadBytes().Span);

        public string[] ReadStrings()
        {
            var count = ReadLength();
            if (count > (buffer.Length - _position) / 4)
            {
                throw new FormatException("Too many strings.");
            }

            var values = new string[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = ReadString();
            }

            return values;
        }

        private int ReadLength()
        {
            Require(4);
            var length = BinaryPrimitives.ReadInt32BigEndian(buffer.Span[_position..]);
            _position += 4;
            if (length < 0)
            {
                throw new FormatException("Negative length.");
            }

            return length;
        }

        private readonly void Require(int count)
        {
            if (count > buffer.Length - _position)
            {
                throw new FormatException("The message is cut short.");
            }
        }
    }
}
