using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace WebSockets.Tests.Hardening;

/// <summary>
/// Builds WebSocket frames byte by byte, including ones no well-behaved client would send: unmasked, with reserved bits,
/// unknown opcodes, oversized or fragmented control frames, and a declared length that differs from the payload.
/// </summary>
internal static class HostileFrames
{
    public const byte Continuation = 0x0;
    public const byte Text = 0x1;
    public const byte Binary = 0x2;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;

    /// <summary>
    /// One frame. <paramref name="declaredLength"/> replaces the length written in the header (the payload that follows is
    /// still <paramref name="payload"/>); <paramref name="rsv"/> is OR-ed into the first byte (0x40, 0x20, 0x10).
    /// </summary>
    public static byte[] Frame(byte opcode, ReadOnlySpan<byte> payload, bool fin = true, bool masked = true, byte rsv = 0, ulong? declaredLength = null)
    {
        var length = declaredLength ?? (ulong)payload.Length;
        var extended = length <= 125 ? 0 : length <= ushort.MaxValue ? 2 : 8;
        var frame = new byte[2 + extended + (masked ? 4 : 0) + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | rsv | (opcode & 0x0F));
        var mask = masked ? 0x80 : 0;
        var offset = 2;
        if (extended == 0)
        {
            frame[1] = (byte)(mask | (int)length);
        }
        else if (extended == 2)
        {
            frame[1] = (byte)(mask | 126);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)length);
            offset += 2;
        }
        else
        {
            frame[1] = (byte)(mask | 127);
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), length);
            offset += 8;
        }

        var body = frame.AsSpan(offset + (masked ? 4 : 0));
        payload.CopyTo(body);
        if (masked)
        {
            var key = frame.AsSpan(offset, 4);
            RandomNumberGenerator.Fill(key);
            for (var i = 0; i < body.Length; i++)
            {
                body[i] ^= key[i & 3];
            }
        }

        return frame;
    }

    public static byte[] TextFrame(string text, bool fin = true) => Frame(Text, Encoding.UTF8.GetBytes(text), fin);

    public static byte[] Concat(params byte[][] frames) => [.. frames.SelectMany(static f => f)];
}
