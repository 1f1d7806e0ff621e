import { TIME_RANGES, type TimeRange } from './ranges';

interface RangePickerProps {
  value: TimeRange;
  onChange: (range: TimeRange) => void;
}

/** A segmented control of the time ranges (buttons with aria-pressed). */
export function RangePicker({ value, onChange }: RangePickerProps) {
  return (
    <div className="segmented" role="group" aria-label="Time range" data-testid="range-picker">
      {TIME_RANGES.map((r) => (
        <button
          key={r.id}
          type="button"
          className="segmented-item"
          aria-pressed={r.id === value.id}
          data-range={r.id}
          onClick={() => onChange(r)}
        >
          {r.label}
        </button>
      ))}
    </div>
  );
}
