using System.Buffers.Text;
using System.Text;

namespace LoadGen;

/// <summary>
/// Splits a SignalR JSON hub protocol stream into records (terminated by 0x1E) without buffering them:
/// only the first <see cref="HeadLength"/> bytes of each record are kept, which is where the server's
/// JsonHubProtocol writes "type", "invocationId" and "target" (headers are never sent here).
/// The first record is the handshake response. Works with any receive buffer size and with records
/// split over, or batched into, WebSocket frames.
/// </summary>
public sealed class HubScanner
{
    public const byte RecordSeparator = 0x1E;
    private const int HeadLength = 96;

    private static readonly byte[] s_type = "\"type\":"u8.ToArray();
    private static readonly byte[] s_invocationId = "\"invocationId\":\""u8.ToArray();
    private static readonly byte[] s_targetMsg = "\"target\":\"msg\""u8.ToArray();
    private static readonly byte[] s_error = "\"error\""u8.ToArray();

    private readonly byte[] _head = new byte[HeadLength];
    private int _headLength;

    public bool HandshakeDone { get; private set; }

    /// <summary>Completions (type 3) seen since the last <see cref="TakeCompletion"/>.</summary>
    public int Completions { get; private set; }

    /// <summary>invocationId of the last completion.</summary>
    public long LastCompletionId { get; private set; }

    /// <summary>"msg" invocations (type 1) seen since the last <see cref="TakeInvocations"/>.</summary>
    public int Invocations { get; private set; }

    public static byte[] Handshake { get; } = "{\"protocol\":\"json\",\"version\":1}\u001e"u8.ToArray();

    public static byte[] Ping { get; } = "{\"type\":6}\u001e"u8.ToArray();

    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var end = data.IndexOf(RecordSeparator);
            var part = end < 0 ? data : data[..end];
            var room = HeadLength - _headLength;
            if (room > 0)
            {
                var n = Math.Min(room, part.Length);
                part[..n].CopyTo(_head.AsSpan(_headLength));
                _headLength += n;
            }

            if (end < 0)
            {
                return;
            }

            OnRecord(_head.AsSpan(0, _headLength));
            _headLength = 0;
            data = data[(end + 1)..];
        }
    }

    public int TakeInvocations()
    {
        var n = Invocations;
        Invocations = 0;
        return n;
    }

    public void TakeCompletion() => Completions = 0;

    private void OnRecord(ReadOnlySpan<byte> head)
    {
        if (!HandshakeDone)
        {
            if (head.IndexOf(s_error) >= 0)
            {
                throw new HubProtocolException($"handshake rejected: {Text(head)}");
            }

            HandshakeDone = true;
            return;
        }

        var at = head.IndexOf(s_type);
        if (at < 0 || at + s_type.Length >= head.Length)
        {
            throw new HubProtocolException($"record without a type: {Text(head)}");
        }

        switch (head[at + s_type.Length])
        {
            case (byte)'1':
                if (head.IndexOf(s_targetMsg) >= 0)
                {
                    Invocations++;
                }

                break;
            case (byte)'3':
                if (head.IndexOf(s_error) >= 0)
                {
                    throw new HubProtocolException($"invocation failed: {Text(head)}");
                }

                var id = head.IndexOf(s_invocationId);
                if (id < 0 || !Utf8Parser.TryParse(head[(id + s_invocationId.Length)..], out long value, out _))
                {
                    throw new HubProtocolException($"completion without a numeric invocationId: {Text(head)}");
                }

                LastCompletionId = value;
                Completions++;
                break;
            case (byte)'7':
                throw new HubProtocolException($"the server closed the hub connection: {Text(head)}");
            default:
                // 6 = ping; anything else (stream items, acks) is not ours: skip.
                break;
        }
    }

    private static string Text(ReadOnlySpan<byte> head) => Encoding.UTF8.GetString(head);
}

public sealed class HubProtocolException(string message) : Exception(message);
