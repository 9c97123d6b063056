using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Mixer.Client;

/// <summary>
/// Protocol-buffers wire output into a growable buffer rented from the shared pool: what the report
/// batcher writes its requests with, so a batch of a thousand sets costs no Google.Protobuf map
/// field (a dictionary plus a linked list) per set, and no second pass to compute sizes. Not
/// thread-safe; <see cref="Detach"/> hands the buffer over (a writer that is dropped leaves its
/// buffer to the garbage collector, which the shared pool tolerates).
/// </summary>
internal sealed class WireWriter
{
    private byte[] _buffer;

    public WireWriter(int capacity = 4096) => _buffer = ArrayPool<byte>.Shared.Rent(capacity);

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Length);

    public static int VarintSize(ulong value)
    {
        // 7 bits a byte; at least one byte.
        return value == 0 ? 1 : ((63 - System.Numerics.BitOperations.LeadingZeroCount(value)) / 7) + 1;
    }

    public static uint ZigZag(int value) => (uint)((value << 1) ^ (value >> 31));

    public static int SInt32Size(int value) => VarintSize(ZigZag(value));

    public static int Int64Size(long value) => VarintSize((ulong)value);

    public static int LengthDelimitedSize(int length) => VarintSize((uint)length) + length;

    public void Reset() => Length = 0;

    public void Tag(int field, int wireType) => Varint((uint)((field << 3) | wireType));

    public void Varint(ulong value)
    {
        Ensure(10);
        var span = _buffer.AsSpan(Length);
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        Length += i;
    }

    public void SInt32(int value) => Varint(ZigZag(value));

    public void Int64(long value) => Varint((ulong)value);

    /// <summary>An int32 field: negative values take ten bytes, as the wire format says.</summary>
    public void Int32(int value) => Varint((ulong)(long)value);

    public void Fixed64(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(Length), value);
        Length += 8;
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        Varint((uint)bytes.Length);
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void String(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        Varint((uint)count);
        Ensure(count);
        Length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(Length));
    }

    /// <summary>The buffer and its length, now the caller's (to give back to the shared pool); this writer starts again empty.</summary>
    public (byte[] Buffer, int Length) Detach(int nextCapacity)
    {
        var result = (_buffer, Length);
        _buffer = ArrayPool<byte>.Shared.Rent(nextCapacity);
        Length = 0;
        return result;
    }

    private void Ensure(int more)
    {
        if (Length + more > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + more));
            _buffer.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
    }
}
