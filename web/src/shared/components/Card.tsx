import type { ReactNode } from 'react';

interface CardProps {
  title: string;
  /** Right-hand side of the header: a current value, a unit. */
  aside?: ReactNode;
  className?: string;
  children: ReactNode;
}

/** A titled panel; the title labels the region for assistive technology. */
export function Card({ title, aside, className, children }: CardProps) {
  const id = `card-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section className={`card${className ? ` ${className}` : ''}`} aria-labelledby={id}>
      <header className="card-header">
        <h2 className="card-title" id={id}>
          {title}
        </h2>
        {aside && <div className="card-aside">{aside}</div>}
      </header>
      {children}
    </section>
  );
}
