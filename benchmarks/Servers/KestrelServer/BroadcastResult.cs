namespace KestrelServer;

/// <summary>The reply of <c>GET /broadcast</c>.</summary>
internal sealed record BroadcastResult(int Recipients, int Messages, int Size, double ElapsedMs)
{
    public const int MaxSize = 16 << 20;
}
