using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace WebSockets.Tests.Infrastructure;

/// <summary>RFC 6455 frame opcodes.</summary>
internal enum RawOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>One WebSocket frame as it appeared on the wire (payload already unmasked).</summary>
internal readonly record struct RawFrame(RawOpcode Opcode, bool Fin, byte[] Payload)
{
    /// <summary>The RSV1 bit (set by permessage-deflate on the first frame of a compressed message).</summary>
    public bool Rsv1 { get; init; }

    /// <summary>The payload decoded as UTF-8.</summary>
    public string Text => Payload is null ? string.Empty : Encoding.UTF8.GetString(Payload);

    /// <summary>For a Close frame with at least two payload bytes: the big-endian status code.</summary>
    public ushort? CloseStatus =>
        Opcode == RawOpcode.Close && Payload is { Length: >= 2 }
            ? BinaryPrimitives.ReadUInt16BigEndian(Payload)
            : null;

    /// <summary>For a Close frame with at least two payload bytes: the UTF-8 reason after the status code.</summary>
    public string? CloseDescription =>
        Opcode == RawOpcode.Close && Payload is { Length: >= 2 }
            ? Encoding.UTF8.GetString(Payload, 2, Payload.Length - 2)
            : null;

    public override string ToString()
    {
        var length = Payload is null ? 0 : Payload.Length;
        var text = $"RawFrame {{ Opcode = {Opcode}, Fin = {Fin}, Rsv1 = {Rsv1}, Length = {length}";
        if (Opcode == RawOpcode.Close && CloseStatus is { } status)
        {
            text += $", CloseStatus = {status}, CloseDescription = \"{CloseDescription}\"";
        }
        else if (Opcode == RawOpcode.Text && length <= 256)
        {
            text += $", Text = \"{Text}\"";
        }

        return text + " }";
    }
}

/// <summary>A parsed HTTP/1.1 response. Header names are case-insensitive; repeated headers are joined with ", ".</summary>
internal sealed record RawHttpResponse(int StatusCode, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public override string ToString()
    {
        var builder = new StringBuilder();
        builder.Append("HTTP ").Append(StatusCode.ToString(CultureInfo.InvariantCulture));
        foreach (var header in Headers)
        {
            builder.Append("; ").Append(header.Key).Append(": ").Append(header.Value);
        }

        if (Body.Length > 0)
        {
            builder.Append("; Body: ").Append(Body.Length <= 512 ? Body : Body[..512] + "...");
        }

        return builder.ToString();
    }
}

/// <summary>Thrown by <see cref="RawWebSocketClient.ConnectAsync"/> when the server answers with anything but 101.</summary>
internal sealed class RawHandshakeException : Exception
{
    public RawHandshakeException(RawHttpResponse response)
        : base($"WebSocket handshake refused with HTTP {response?.StatusCode.ToString(CultureInfo.InvariantCulture)}: {response}")
    {
        ArgumentNullException.ThrowIfNull(response);
        Response = response;
    }

    public RawHttpResponse Response { get; }
}

/// <summary>
/// A deliberately low-level WebSocket client over a plain <see cref="System.Net.Sockets.Socket"/> (ws:// only).
/// It never answers pings, never sends anything on its own, and lets tests send arbitrary frames,
/// stop reading, or vanish with a TCP reset.
/// </summary>
internal sealed class RawWebSocketClient : IAsyncDisposable
{
    private const string WebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    private const int MaxHeaderBlockBytes = 64 * 1024;

    private readonly SocketReader _reader;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private int _closed;

    private RawWebSocketClient(Socket socket, SocketReader reader, RawHttpResponse handshakeResponse)
    {
        Socket = socket;
        _reader = reader;
        HandshakeResponse = handshakeResponse;
    }

    /// <summary>The underlying connected socket.</summary>
    public Socket Socket { get; }

    /// <summary>The server's 101 response (e.g. Sec-WebSocket-Protocol, Sec-WebSocket-Extensions).</summary>
    public RawHttpResponse HandshakeResponse { get; }

    /// <summary>
    /// Performs the opening handshake. Extra <paramref name="headers"/> replace a default header of the same name
    /// (e.g. Sec-WebSocket-Version) or are appended. Throws <see cref="RawHandshakeException"/> unless the server answers 101.
    /// </summary>
    public static async Task<RawWebSocketClient> ConnectAsync(
        Uri uri,
        IEnumerable<KeyValuePair<string, string>>? headers = null,
        int? receiveBufferSize = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);

        var socket = await OpenSocketAsync(uri, receiveBufferSize, cancellationToken);
        try
        {
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var reader = new SocketReader(socket);
            await SendAsync(socket, BuildRequest(uri, headers, upgrade: true, key), cancellationToken);
            var response = await ReadResponseAsync(reader, cancellationToken);
            if (response.StatusCode != 101)
            {
                throw new RawHandshakeException(response);
            }

            var expectedAccept = ComputeAccept(key);
            if (!response.Headers.TryGetValue("Sec-WebSocket-Accept", out var accept) || accept.Trim() != expectedAccept)
            {
                throw new InvalidDataException(
                    $"Invalid Sec-WebSocket-Accept '{accept}' (expected '{expectedAccept}'). Response: {response}");
            }

            // Any bytes already read past the header block stay in the reader as the start of the frame stream.
            return new RawWebSocketClient(socket, reader, response);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends a GET request (with the WebSocket upgrade headers when <paramref name="upgrade"/> is true) and returns the
    /// parsed response, whatever its status. Extra <paramref name="headers"/> replace defaults of the same name or are appended.
    /// The connection is closed afterwards.
    /// </summary>
    public static async Task<RawHttpResponse> SendRequestAsync(
        Uri uri,
        IEnumerable<KeyValuePair<string, string>>? headers = null,
        bool upgrade = true,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);

        using var socket = await OpenSocketAsync(uri, receiveBufferSize: null, cancellationToken);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        await SendAsync(socket, BuildRequest(uri, headers, upgrade, key), cancellationToken);
        return await ReadResponseAsync(new SocketReader(socket), cancellationToken);
    }

    /// <summary>Sends one masked frame with an arbitrary opcode, FIN bit and payload (no validation at all).</summary>
    public async Task SendFrameAsync(
        RawOpcode opcode,
        ReadOnlyMemory<byte> payload,
        bool fin = true,
        CancellationToken cancellationToken = default)
    {
        var length = payload.Length;
        var headerLength = 2 + (length <= 125 ? 0 : length <= ushort.MaxValue ? 2 : 8) + 4;
        var frame = new byte[headerLength + length];

        frame[0] = (byte)((fin ? 0x80 : 0x00) | ((byte)opcode & 0x0F));
        var offset = 2;
        if (length <= 125)
        {
            frame[1] = (byte)(0x80 | length);
        }
        else if (length <= ushort.MaxValue)
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(offset, 2), (ushort)length);
            offset += 2;
        }
        else
        {
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(offset, 8), (ulong)length);
            offset += 8;
        }

        var mask = frame.AsSpan(offset, 4);
        RandomNumberGenerator.Fill(mask);
        offset += 4;

        var body = frame.AsSpan(offset);
        payload.Span.CopyTo(body);
        for (var i = 0; i < body.Length; i++)
        {
            body[i] ^= mask[i & 3];
        }

        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            await SendAsync(Socket, frame, cancellationToken);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public Task SendTextAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SendFrameAsync(RawOpcode.Text, Encoding.UTF8.GetBytes(text), fin: true, cancellationToken);
    }

    public Task SendBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        return SendFrameAsync(RawOpcode.Binary, payload, fin: true, cancellationToken);
    }

    public Task SendCloseAsync(ushort status, string description = "", CancellationToken cancellationToken = default)
    {
        description ??= string.Empty;
        var payload = new byte[2 + Encoding.UTF8.GetByteCount(description)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, status);
        Encoding.UTF8.GetBytes(description, 0, description.Length, payload, 2);
        return SendFrameAsync(RawOpcode.Close, payload, fin: true, cancellationToken);
    }

    /// <summary>
    /// Reads exactly one frame, whatever its opcode. Pings are NOT answered.
    /// Throws <see cref="EndOfStreamException"/> if the connection ends first and
    /// <see cref="InvalidDataException"/> for a masked server frame.
    /// </summary>
    public async Task<RawFrame> ReceiveFrameAsync(CancellationToken cancellationToken = default)
    {
        var header = new byte[8];
        await _reader.ReadExactlyAsync(header.AsMemory(0, 2), cancellationToken);

        var fin = (header[0] & 0x80) != 0;
        var rsv1 = (header[0] & 0x40) != 0;
        var opcode = (RawOpcode)(header[0] & 0x0F);
        if ((header[1] & 0x80) != 0)
        {
            throw new InvalidDataException("The server sent a masked frame.");
        }

        ulong length = (uint)(header[1] & 0x7F);
        if (length == 126)
        {
            await _reader.ReadExactlyAsync(header.AsMemory(0, 2), cancellationToken);
            length = BinaryPrimitives.ReadUInt16BigEndian(header);
        }
        else if (length == 127)
        {
            await _reader.ReadExactlyAsync(header.AsMemory(0, 8), cancellationToken);
            length = BinaryPrimitives.ReadUInt64BigEndian(header);
        }

        if (length > (ulong)Array.MaxLength)
        {
            throw new InvalidDataException($"Frame payload length {length} is too large.");
        }

        var payload = length == 0 ? [] : new byte[(int)length];
        await _reader.ReadExactlyAsync(payload, cancellationToken);
        return new RawFrame(opcode, fin, payload) { Rsv1 = rsv1 };
    }

    /// <summary>Reads frames, skipping Ping and Pong (without answering), until a data or Close frame.</summary>
    public async Task<RawFrame> ReceiveDataFrameAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var frame = await ReceiveFrameAsync(cancellationToken);
            if (frame.Opcode is not RawOpcode.Ping and not RawOpcode.Pong)
            {
                return frame;
            }
        }
    }

    /// <summary>Aborts the connection with a TCP RST (linger on, zero timeout). Idempotent.</summary>
    public void Reset()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // The connection may already be gone; closing is all that is left to do.
        }
        catch (ObjectDisposedException)
        {
        }

        Socket.Close();
    }

    /// <summary>Closes the socket without a WebSocket close handshake.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            try
            {
                Socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }

            Socket.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private static async Task<Socket> OpenSocketAsync(Uri uri, int? receiveBufferSize, CancellationToken cancellationToken)
    {
        if (!uri.IsAbsoluteUri || (uri.Scheme != "ws" && uri.Scheme != "http"))
        {
            throw new NotSupportedException($"Only ws:// (or http://) URIs are supported, got '{uri}'.");
        }

        IPAddress address;
        if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (IPAddress.TryParse(uri.Host, out var parsed))
        {
            address = parsed;
        }
        else
        {
            var addresses = await Dns.GetHostAddressesAsync(uri.Host, AddressFamily.InterNetwork, cancellationToken);
            address = addresses.Length > 0
                ? addresses[0]
                : throw new SocketException((int)SocketError.HostNotFound);
        }

        var port = uri.Port > 0 ? uri.Port : 80;
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (receiveBufferSize is { } size)
            {
                socket.ReceiveBufferSize = size;
            }

            socket.NoDelay = true;
            await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static byte[] BuildRequest(Uri uri, IEnumerable<KeyValuePair<string, string>>? headers, bool upgrade, string key)
    {
        var extra = headers?.ToList() ?? [];
        var overridden = new HashSet<string>(extra.Select(h => h.Key), StringComparer.OrdinalIgnoreCase);

        var defaults = new List<KeyValuePair<string, string>> { new("Host", uri.Authority) };
        if (upgrade)
        {
            defaults.Add(new("Upgrade", "websocket"));
            defaults.Add(new("Connection", "Upgrade"));
            defaults.Add(new("Sec-WebSocket-Key", key));
            defaults.Add(new("Sec-WebSocket-Version", "13"));
        }

        var builder = new StringBuilder();
        builder.Append("GET ").Append(uri.PathAndQuery).Append(" HTTP/1.1\r\n");
        foreach (var header in defaults.Where(h => !overridden.Contains(h.Key)).Concat(extra))
        {
            builder.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
        }

        builder.Append("\r\n");
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    private static string ComputeAccept(string key)
    {
        return Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + WebSocketGuid)));
    }

    private static async Task SendAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data[sent..];
        }
    }

    private static async Task<RawHttpResponse> ReadResponseAsync(SocketReader reader, CancellationToken cancellationToken)
    {
        var headerBlock = await reader.ReadHeaderBlockAsync(cancellationToken);
        var lines = headerBlock.Split("\r\n");

        var statusParts = lines[0].Split(' ', 3);
        if (statusParts.Length < 2
            || !statusParts[0].StartsWith("HTTP/", StringComparison.Ordinal)
            || !int.TryParse(statusParts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var statusCode))
        {
            throw new InvalidDataException($"Malformed HTTP status line '{lines[0]}'.");
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new InvalidDataException($"Malformed HTTP header line '{line}'.");
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
        }

        byte[] body;
        if (statusCode is (>= 100 and < 200) or 204 or 304)
        {
            body = [];
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var transferEncoding)
            && transferEncoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = await ReadChunkedBodyAsync(reader, cancellationToken);
        }
        else if (headers.TryGetValue("Content-Length", out var contentLength))
        {
            if (!int.TryParse(contentLength, NumberStyles.None, CultureInfo.InvariantCulture, out var bodyLength))
            {
                throw new InvalidDataException($"Invalid Content-Length '{contentLength}'.");
            }

            body = new byte[bodyLength];
            await reader.ReadExactlyAsync(body, cancellationToken);
        }
        else
        {
            body = await reader.ReadToEndAsync(cancellationToken);
        }

        return new RawHttpResponse(statusCode, headers, Encoding.UTF8.GetString(body));
    }

    private static async Task<byte[]> ReadChunkedBodyAsync(SocketReader reader, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        while (true)
        {
            var sizeLine = await reader.ReadLineAsync(cancellationToken);
            var semicolon = sizeLine.IndexOf(';', StringComparison.Ordinal);
            var sizeText = (semicolon >= 0 ? sizeLine[..semicolon] : sizeLine).Trim();
            if (!int.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
            {
                throw new InvalidDataException($"Invalid chunk size line '{sizeLine}'.");
            }

            if (size == 0)
            {
                // Trailer section: header lines until an empty line.
                while ((await reader.ReadLineAsync(cancellationToken)).Length > 0)
                {
                }

                return body.ToArray();
            }

            var chunk = new byte[size];
            await reader.ReadExactlyAsync(chunk, cancellationToken);
            body.Write(chunk);
            if ((await reader.ReadLineAsync(cancellationToken)).Length != 0)
            {
                throw new InvalidDataException("Missing CRLF after chunk data.");
            }
        }
    }

    /// <summary>Buffered, cancellable reads from a socket; bytes read ahead are kept for the next read.</summary>
    private sealed class SocketReader
    {
        private readonly Socket _socket;
        private byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public SocketReader(Socket socket)
        {
            _socket = socket;
        }

        private int Buffered => _end - _start;

        public async Task ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (Buffered > 0)
            {
                var count = Math.Min(Buffered, destination.Length);
                _buffer.AsMemory(_start, count).CopyTo(destination);
                _start += count;
                destination = destination[count..];
            }

            while (!destination.IsEmpty)
            {
                var read = await _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    throw new EndOfStreamException("The connection was closed before the expected data arrived.");
                }

                destination = destination[read..];
            }
        }

        /// <summary>Reads up to and including the blank line ending an HTTP header block; returns it without the final CRLFCRLF.</summary>
        public async Task<string> ReadHeaderBlockAsync(CancellationToken cancellationToken)
        {
            var searchFrom = _start;
            while (true)
            {
                var index = _buffer.AsSpan(searchFrom, _end - searchFrom).IndexOf("\r\n\r\n"u8);
                if (index >= 0)
                {
                    var headerEnd = searchFrom + index;
                    var text = Encoding.Latin1.GetString(_buffer, _start, headerEnd - _start);
                    _start = headerEnd + 4;
                    return text;
                }

                if (Buffered >= MaxHeaderBlockBytes)
                {
                    throw new InvalidDataException($"HTTP header block exceeds {MaxHeaderBlockBytes} bytes.");
                }

                searchFrom = Math.Max(_start, _end - 3);
                var consumed = _start;
                if (!await FillAsync(cancellationToken))
                {
                    throw new EndOfStreamException("The connection was closed before the HTTP header block was complete.");
                }

                searchFrom -= consumed - _start;
            }
        }

        /// <summary>Reads one CRLF-terminated line (without the CRLF).</summary>
        public async Task<string> ReadLineAsync(CancellationToken cancellationToken)
        {
            var searchFrom = _start;
            while (true)
            {
                var index = _buffer.AsSpan(searchFrom, _end - searchFrom).IndexOf("\r\n"u8);
                if (index >= 0)
                {
                    var lineEnd = searchFrom + index;
                    var text = Encoding.Latin1.GetString(_buffer, _start, lineEnd - _start);
                    _start = lineEnd + 2;
                    return text;
                }

                if (Buffered >= MaxHeaderBlockBytes)
                {
                    throw new InvalidDataException($"HTTP line exceeds {MaxHeaderBlockBytes} bytes.");
                }

                searchFrom = Math.Max(_start, _end - 1);
                var consumed = _start;
                if (!await FillAsync(cancellationToken))
                {
                    throw new EndOfStreamException("The connection was closed in the middle of a line.");
                }

                searchFrom -= consumed - _start;
            }
        }

        /// <summary>Returns everything until the peer closes the connection (a reset also counts as the end).</summary>
        public async Task<byte[]> ReadToEndAsync(CancellationToken cancellationToken)
        {
            using var body = new MemoryStream();
            body.Write(_buffer, _start, Buffered);
            _start = _end = 0;

            var chunk = new byte[16 * 1024];
            while (true)
            {
                int read;
                try
                {
                    read = await _socket.ReceiveAsync(chunk.AsMemory(), SocketFlags.None, cancellationToken);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                    read = 0;
                }

                if (read == 0)
                {
                    return body.ToArray();
                }

                body.Write(chunk, 0, read);
            }
        }

        /// <summary>Receives more bytes at the end of the buffer (compacting or growing it first). False at end of stream.</summary>
        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, Buffered);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return false;
            }

            _end += read;
            return true;
        }
    }
}
